#include "ci/gitlab.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace aj::ci::gitlab {
namespace {

Result<int> exit_code_variable(const Env& env, const std::string& name, int fallback) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return fallback;
  int value = 0;
  const std::string& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > 255)
    return fail(EINVAL, name + "=" + aj::quoted(text) + ": expected an exit code from 1 to 255");
  return value;
}

// A host name, an IPv4 address or a bracketed IPv6 one, as the runner's `url` may hold.
bool plausible_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.front() == '[') return host.back() == ']' && host.size() > 2;
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  return true;
}

// The runner's stages that talk to GitLab itself (docs.gitlab.com/runner/executors/custom.html,
// "Run"): they get the server and nothing else. Every other stage runs what the job wrote.
constexpr std::string_view kRunnerStages[] = {
    "get_sources",        "restore_cache",           "download_artifacts",         "archive_cache",
    "archive_cache_on_failure", "upload_artifacts_on_success", "upload_artifacts_on_failure",
};

}  // namespace

Result<ExitCodes> exit_codes(const Env& env) {
  ExitCodes codes;
  auto build = exit_code_variable(env, "BUILD_FAILURE_EXIT_CODE", codes.build_failure);
  if (!build) return std::unexpected(build.error());
  auto system = exit_code_variable(env, "SYSTEM_FAILURE_EXIT_CODE", codes.system_failure);
  if (!system) return std::unexpected(system.error());
  codes.build_failure = *build;
  codes.system_failure = *system;
  if (auto it = env.find("BUILD_EXIT_CODE_FILE"); it != env.end()) codes.exit_code_file = it->second;
  return codes;
}

Result<std::string> job_id(const Env& env) {
  auto it = env.find("CUSTOM_ENV_CI_JOB_ID");
  if (it == env.end() || it->second.empty())
    return fail(EINVAL, "CUSTOM_ENV_CI_JOB_ID is not set: agentjail ci gitlab is run by GitLab Runner's custom executor");
  const std::string& id = it->second;
  if (id.size() > 20 || id.find_first_not_of("0123456789") != std::string::npos)
    return fail(EINVAL, "CUSTOM_ENV_CI_JOB_ID=" + aj::quoted(id) + ": expected the job's number");
  return id;
}

JobPaths job_paths(const Settings& settings, std::string_view id) {
  JobPaths paths;
  paths.root = settings.state_dir + "/" + std::string(id);
  paths.builds = paths.root + "/builds";
  paths.cache = settings.cache_dir.empty() ? paths.builds + "/.agentjail-cache" : settings.cache_dir;
  paths.reports = paths.root + "/reports";
  return paths;
}

Result<StageKind> stage_kind(std::string_view stage) {
  if (stage.empty() || stage.size() > 64 || stage.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string_view::npos)
    return fail(EINVAL, "stage " + aj::quoted(stage) + ": expected a GitLab Runner stage name such as step_script");
  for (std::string_view runner : kRunnerStages)
    if (stage == runner) return StageKind::runner;
  return StageKind::job;
}

Result<std::string> server_endpoint(std::string_view url) {
  std::string_view rest = url;
  std::string port;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    port = "443";
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
    port = "80";
  } else {
    return fail(EINVAL, "--server " + aj::quoted(url) + ": expected the GitLab instance's http:// or https:// URL");
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.find('@') != std::string_view::npos)
    return fail(EINVAL, "--server " + aj::quoted(url) + ": no user or password in the URL");
  std::string_view host = rest;
  const size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find(']', colon) == std::string_view::npos) {
    host = rest.substr(0, colon);
    std::string_view digits = rest.substr(colon + 1);
    int value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || value < 1 || value > 65535)
      return fail(EINVAL, "--server " + aj::quoted(url) + ": bad port");
    port = std::string(digits);
  }
  if (!plausible_host(host)) return fail(EINVAL, "--server " + aj::quoted(url) + ": no host name in the URL");
  return lower(host) + ":" + port;
}

Result<Access> stage_access(const Settings& settings, const JobPaths& paths, StageKind kind) {
  Access access;
  // The builds directory as the run's workspace, at the path `config` announced: whoever owns
  // it on the host (root, for a runner run as root) owns what the jail writes there, and the
  // jail runs as the host ids it leases, never as host root (agentjail-policy(5), workspace).
  access.options = {"-w", paths.builds + ":" + std::string(kBuildsDir) + ":rw"};
  // A cache shared by the jobs is the operator's directory, writable by the jail's user as
  // they set it up (docs/ci-gitlab.md); a job's own cache is inside its workspace.
  if (!settings.cache_dir.empty())
    access.options.insert(access.options.end(), {"--rw", settings.cache_dir + ":" + std::string(kCacheDir)});
  if (kind == StageKind::runner) {
    // Fetching the sources, cache and artifacts talks to GitLab: the server's host and the
    // hosts the runner's configuration adds (an object store for the cache), nothing else.
    // A submodule or LFS URL elsewhere is refused and lands in the stage's report.
    if (settings.server.empty())
      return fail(EINVAL, "this stage fetches from GitLab: give the instance's URL with --server in run_args");
    auto server = server_endpoint(settings.server);
    if (!server) return std::unexpected(server.error());
    access.options.insert(access.options.end(), {"--net", "allowlist", "--allow", *server});
    for (const std::string& extra : settings.server_allow) access.options.insert(access.options.end(), {"--allow", extra});
  }
  return access;
}

std::vector<std::string> stage_command(const Settings& settings, const Access& access, std::string_view script,
                                       std::string_view report_path) {
  std::vector<std::string> argv = {"run", "-p", settings.policy, "--report", std::string(report_path)};
  if (settings.verbose) argv.push_back("-v");
  argv.insert(argv.end(), access.options.begin(), access.options.end());
  // The script as a read-only file, run by bash as GitLab's generated scripts expect; stdin
  // stays the job's (reading the script from stdin would hand the rest of it to the job's
  // first command that reads stdin).
  argv.insert(argv.end(), {"--ro", std::string(script) + ":" + std::string(kScriptInJail), "--cwd",
                           std::string(kBuildsDir), "--", "bash", std::string(kScriptInJail)});
  return argv;
}

std::string config_json(std::string_view hostname, std::string_view version, bool shared_cache) {
  nlohmann::ordered_json config = {
      {"builds_dir", kBuildsDir},
      {"cache_dir", shared_cache ? kCacheDir : kJobCacheDir},
      // Each job has a builds directory of its own (the runner need not separate concurrent
      // jobs inside it), removed by cleanup.
      {"builds_dir_is_shared", false},
      {"hostname", hostname},
      {"driver", {{"name", "agentjail"}, {"version", version}}},
      {"shell", "bash"},
  };
  return config.dump() + "\n";
}

StageEnd stage_end(const ExitCodes& codes, bool setup_error, int code) {
  if (setup_error) return {codes.system_failure, std::nullopt};
  if (code == 0) return {0, std::nullopt};
  return {codes.build_failure, code};
}

}  // namespace aj::ci::gitlab
