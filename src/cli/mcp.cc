// `agentjail mcp`: an MCP server on stdio whose tools run code in jails (agentjail-serve(1)).
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/version.h"
#include "cli/serve.h"
#include "mcp/stdio.h"
#include "report/exit_codes.h"
#include "sys/fd.h"
#include "sys/files.h"

namespace aj::cli {
namespace {

struct McpOptions {
  std::string policy;  // "": the built-in python, node and shell policies, and default for run_command
  std::vector<std::string> pools;  // --pool NAME=N
  unsigned max_jails = 4;
  int verbose = 0;
};

int mcp_main(const McpOptions& options, const ExecutorFactory& factory) {
  log::init(options.verbose ? log::Level::verbose : log::Level::normal);
  auto refuse = [](const std::string& message) {
    log::error_line("mcp: " + message);
    return report::kExitSetupError;
  };
  std::vector<std::string> specs = options.policy.empty() ? std::vector<std::string>{"default", "python", "node", "shell"}
                                                          : std::vector<std::string>{options.policy};
  auto policies = load_policies(specs);
  if (!policies) return refuse(policies.error().what());
  serve::PolicyCatalog catalog = catalog_of(*policies);
  mcp::SessionConfig config;
  config.policies = &catalog;
  const std::string only = policies->front().policy.name;
  for (const char* language : {"python", "node", "shell"}) config.language_policy[language] = options.policy.empty() ? language : only;
  config.command_policy = only;
  config.version = AGENTJAIL_VERSION;
  if (options.max_jails == 0) return refuse("--max-jails must be at least 1");

  auto pools = parse_pools(options.pools, *policies);
  if (!pools) return refuse(pools.error().what());
  ServeSetup setup{*policies, *pools, options.max_jails, "", 2000};
  auto executor = factory(setup);
  if (!executor) return refuse(executor.error().what());

  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  sys::UniqueFd signals(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signals) return refuse("signalfd: " + errno_text(errno));

  bool stdout_gone = false;
  mcp::Session session(config, **executor, [&](const nlohmann::json& message) {
    if (stdout_gone) return;
    std::string line = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (!sys::write_all(STDOUT_FILENO, line)) stdout_gone = true;
  });
  auto served = mcp::serve_stdio(session, **executor, STDIN_FILENO, signals.get(), 16u << 20);
  if (!served) return refuse(served.error().what());
  return 0;
}

}  // namespace

Runner add_mcp(CLI::App& root, ExecutorFactory factory) {
  auto options = std::make_shared<McpOptions>();
  auto* cmd = root.add_subcommand("mcp", "Serve the run_code and run_command tools over MCP on stdio (agentjail-serve(1))");
  cmd->add_option("-p,--policy", options->policy,
                  "One policy for every tool call (default: the built-in python, node and shell policies, and default for run_command)");
  cmd->add_option("--pool", options->pools,
                  "NAME=N: keep N jails of policy NAME (python, node, shell, default, or -p's) ready, as serve does "
                  "(repeatable)");
  cmd->add_option("--max-jails", options->max_jails, "Tool calls run at once")->capture_default_str();
  cmd->add_flag("-v,--verbose", options->verbose, "Log to stderr what runs");
  return [options, factory] { return mcp_main(*options, factory); };
}

}  // namespace aj::cli
