// `agentjail serve`: the options, the policies, the listeners, then the server's poll loop.
#include "cli/serve.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <charconv>

#include "base/log.h"
#include "base/strings.h"
#include "pipeline/pipeline.h"
#include "policy/units.h"
#include "report/exit_codes.h"
#include "serve/access.h"
#include "serve/jail_executor.h"
#include "serve/server.h"

namespace aj::cli {
namespace {

struct ServeOptions {
  std::string socket;
  std::string socket_mode = "0660";
  std::string socket_group;
  std::vector<std::string> policies;
  std::vector<std::string> pools;
  unsigned max_jails = 4;
  unsigned queue = 0;
  std::string max_body = "64MiB";
  std::string listen;
  std::string token_file;
  std::vector<uid_t> allow_uids;
  bool allow_client_policies = false;
  std::string grace = "10s";
  std::string audit_log;
  std::string uid_range;
  int verbose = 0;
  bool quiet = false;
};

}  // namespace

Result<std::map<std::string, unsigned>> parse_pools(const std::vector<std::string>& specs,
                                                    const std::vector<policy::Loaded>& policies) {
  std::map<std::string, unsigned> pools;
  for (const std::string& spec : specs) {
    size_t eq = spec.find('=');
    unsigned count = 0;
    const char* begin = spec.data() + (eq == std::string::npos ? spec.size() : eq + 1);
    auto [end, ec] = std::from_chars(begin, spec.data() + spec.size(), count);
    if (eq == std::string::npos || ec != std::errc{} || end != spec.data() + spec.size() || count > 1024)
      return fail(EINVAL, "--pool " + aj::quoted(spec) + ": expected NAME=N (N from 0 to 1024)");
    std::string name = spec.substr(0, eq);
    bool known = std::any_of(policies.begin(), policies.end(), [&](const auto& p) { return p.policy.name == name; });
    if (!known) return fail(EINVAL, "--pool " + aj::quoted(spec) + ": no --policy is named " + aj::quoted(name));
    for (const auto& p : policies)
      if (p.policy.name == name && count > 0)
        if (auto why = pipeline::cannot_pool(p.policy)) return fail(EINVAL, "--pool " + aj::quoted(spec) + ": " + *why);
    pools[name] = count;
  }
  return pools;
}

namespace {

Result<sys::UniqueFd> drain_signals() {
  ::signal(SIGPIPE, SIG_IGN);  // a client gone mid-answer is an error of send(), never a signal
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return fail_errno("sigprocmask");
  sys::UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd) return fail_errno("signalfd");
  return fd;
}

int refuse(const std::string& message) {
  log::error_line("serve: " + message);
  return report::kExitSetupError;
}

int serve_main(const ServeOptions& options, const ExecutorFactory& factory) {
  log::init(options.quiet ? log::Level::quiet : options.verbose ? log::Level::verbose : log::Level::normal);
  auto policies = load_policies(options.policies.empty() ? std::vector<std::string>{"default"} : options.policies);
  if (!policies) return refuse(policies.error().what());
  auto pools = parse_pools(options.pools, *policies);
  if (!pools) return refuse(pools.error().what());

  serve::ServerConfig config;
  config.socket_path = options.socket;
  unsigned mode = 0;
  auto [end, ec] = std::from_chars(options.socket_mode.data(), options.socket_mode.data() + options.socket_mode.size(), mode, 8);
  if (ec != std::errc{} || end != options.socket_mode.data() + options.socket_mode.size() || mode > 0777)
    return refuse("--socket-mode " + aj::quoted(options.socket_mode) + ": expected octal bits such as 0660");
  config.socket_mode = static_cast<mode_t>(mode);
  if (!options.socket_group.empty()) {
    auto gid = serve::parse_group(options.socket_group);
    if (!gid) return refuse(gid.error().what());
    config.socket_group = *gid;
  }
  if (!options.listen.empty() && options.token_file.empty())
    return refuse("--listen needs --token-file (TCP callers are known only by the token)");
  if (!options.token_file.empty()) {
    auto token = serve::read_token_file(options.token_file);
    if (!token) return refuse(token.error().what());
    config.token = *token;
  }
  config.listen = options.listen;
  config.allowed_uids = options.allow_uids;
  if (options.max_jails == 0) return refuse("--max-jails must be at least 1");
  config.max_jails = options.max_jails;
  config.queue = options.queue;
  auto max_body = policy::parse_size(options.max_body);
  if (!max_body || *max_body == 0)
    return refuse("--max-body " + aj::quoted(options.max_body) + ": expected a size such as 64MiB");
  config.http.max_body = *max_body;
  config.parse.bounds.max_files_bytes = *max_body;
  auto grace = policy::parse_duration_ms(options.grace);
  if (!grace) return refuse("--grace " + aj::quoted(options.grace) + ": " + grace.error().message);
  config.grace_ms = static_cast<int>(std::min<uint64_t>(*grace, 3'600'000));
  serve::PolicyCatalog catalog = catalog_of(*policies);
  config.parse.policies = &catalog;
  config.parse.default_policy = policies->front().policy.name;
  if (options.allow_client_policies) config.parse.client_policies = client_policy_loader();

  ServeSetup setup{*policies, *pools, config.max_jails, options.audit_log, config.grace_ms, options.uid_range};
  auto executor = factory(setup);
  if (!executor) return refuse(executor.error().what());
  auto signals = drain_signals();
  if (!signals) return refuse(signals.error().what());
  serve::Server server(std::move(config), **executor);
  if (auto listening = server.listen(); !listening)
    return refuse(listening.error().what());
  spdlog::info("serving on {}{}", options.socket, options.listen.empty() ? "" : " and " + options.listen);
  if (auto ran = server.run(signals->get()); !ran) {
    log::error_line("serve: " + ran.error().what());
    return 1;
  }
  return 0;
}

}  // namespace

Result<std::vector<policy::Loaded>> load_policies(const std::vector<std::string>& specs) {
  std::vector<policy::Loaded> loaded;
  for (const std::string& spec : specs) {
    policy::Diagnostics diagnostics;
    auto one = policy::load(spec, diagnostics);
    if (!one) {
      std::string lines;
      for (const auto& diagnostic : diagnostics) lines += (lines.empty() ? "" : "\n") + diagnostic.format();
      return fail(EINVAL, "--policy " + spec + ": " + lines);
    }
    for (const auto& earlier : loaded)
      if (earlier.policy.name == one->policy.name)
        return fail(EINVAL, "--policy " + spec + ": a policy named " + aj::quoted(one->policy.name) + " is already served");
    loaded.push_back(std::move(*one));
  }
  return loaded;
}

serve::PolicyCatalog catalog_of(const std::vector<policy::Loaded>& policies) {
  serve::PolicyCatalog catalog;
  for (const auto& loaded : policies) catalog.emplace(loaded.policy.name, loaded.policy.limits);
  return catalog;
}

serve::ClientPolicyLoader client_policy_loader() {
  return [](const std::string& toml) -> Result<serve::ClientPolicy> {
    policy::Diagnostics diagnostics;
    // No base directory: a client's policy may extend the built-ins, never a file of the host.
    auto loaded = policy::load_text(toml, "client policy", "", diagnostics);
    if (!loaded) {
      std::string lines;
      for (const auto& diagnostic : diagnostics) lines += (lines.empty() ? "" : "; ") + diagnostic.format();
      return fail(EINVAL, lines);
    }
    return serve::ClientPolicy{loaded->policy.name, loaded->policy.limits};
  };
}

ExecutorFactory jail_executor_factory() {
  return [](const ServeSetup& setup) -> Result<std::unique_ptr<serve::Executor>> {
    serve::JailExecutorConfig config;
    for (const auto& loaded : setup.policies) config.policies[loaded.policy.name] = loaded;
    config.pools = setup.pools;
    config.max_jails = setup.max_jails;
    config.audit_log = setup.audit_log;
    auto range = host::configured_id_range(setup.uid_range);
    if (!range) return std::unexpected(range.error());
    config.id_range = *range;
    return std::make_unique<serve::JailExecutor>(std::move(config));
  };
}

Runner add_serve(CLI::App& root, ExecutorFactory factory) {
  auto options = std::make_shared<ServeOptions>();
  auto* cmd = root.add_subcommand("serve", "Run jails for clients of an HTTP API on a unix socket (agentjail-serve(1))");
  cmd->add_option("--socket", options->socket, "Unix socket to listen on")->required();
  cmd->add_option("--socket-mode", options->socket_mode, "Permission bits of the socket (who may connect)")->capture_default_str();
  cmd->add_option("--socket-group", options->socket_group, "Group of the socket (name or number)");
  cmd->add_option("-p,--policy", options->policies, "A policy clients may name (file or built-in; repeatable; the first is the default)");
  cmd->add_option("--pool", options->pools, "NAME=N: keep N jails of policy NAME ready (repeatable)");
  cmd->add_option("--max-jails", options->max_jails, "Runs at once")->capture_default_str();
  cmd->add_option("--queue", options->queue, "Requests that may wait for a jail; beyond them: 503")->capture_default_str();
  cmd->add_option("--max-body", options->max_body, "Largest request body")->capture_default_str();
  cmd->add_option("--listen", options->listen, "ADDR:PORT: serve TCP too (needs --token-file)");
  cmd->add_option("--token-file", options->token_file, "Bearer token for --listen (mode 0600)");
  cmd->add_option("--allow-uid", options->allow_uids, "Only these uids may run (repeatable)");
  cmd->add_flag("--allow-client-policies", options->allow_client_policies, "Accept a policy's TOML in a request");
  cmd->add_option("--grace", options->grace, "On SIGTERM: how long running jails may finish")->capture_default_str();
  cmd->add_option("--audit-log", options->audit_log, "Append one JSON line per run to this file");
  cmd->add_option("--uid-range", options->uid_range,
                  "Run by root: lease each jail's host uid and gid from FIRST-LAST (default 1879048192-1879113727, "
                  "or AGENTJAIL_UID_RANGE)")
      ->type_name("FIRST-LAST");
  cmd->add_flag("-v,--verbose", options->verbose, "Log each request");
  cmd->add_flag("-q,--quiet", options->quiet, "Only errors");
  return [options, factory] { return serve_main(*options, factory); };
}

}  // namespace aj::cli
