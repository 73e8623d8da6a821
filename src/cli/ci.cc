// `agentjail ci gitlab config|prepare|run|cleanup`: GitLab Runner's custom executor
// (ci/driver.h). Everything here comes from the runner's configuration (config_args,
// prepare_args, run_args, cleanup_args); the job's variables are read by the driver only.
#include <unistd.h>

#include <memory>

#include "base/log.h"
#include "ci/driver.h"
#include "cli/commands.h"

extern char** environ;

namespace aj::cli {
namespace {

ci::gitlab::Env environment() {
  ci::gitlab::Env env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view var(*entry);
    size_t eq = var.find('=');
    if (eq != std::string_view::npos) env.emplace(var.substr(0, eq), var.substr(eq + 1));
  }
  return env;
}

std::string default_state_dir() {
  if (::geteuid() == 0) return "/var/lib/agentjail/gitlab";
  const char* home = ::getenv("HOME");
  return std::string(home && *home == '/' ? home : "/tmp") + "/.local/state/agentjail/gitlab";
}

}  // namespace

Runner add_ci(CLI::App& root) {
  auto settings = std::make_shared<ci::gitlab::Settings>();
  auto script = std::make_shared<std::string>();
  auto stage = std::make_shared<std::string>();
  auto* ci = root.add_subcommand("ci", "CI drivers: agentjail ci gitlab config|prepare|run|cleanup");
  ci->require_subcommand(1);
  auto* gitlab = ci->add_subcommand("gitlab", "GitLab Runner's custom executor (docs/ci-gitlab.md)");
  gitlab->require_subcommand(1);
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("-p,--policy", settings->policy, "Policy of every stage's jail (file or built-in name)")
        ->capture_default_str();
    cmd->add_option("--state-dir", settings->state_dir,
                    "Host directory holding one directory per job (default /var/lib/agentjail/gitlab as root)")
        ->type_name("DIR");
    cmd->add_option("--cache-dir", settings->cache_dir, "Host directory shared by the jobs as /cache (default: one per job)")
        ->type_name("DIR");
    cmd->add_flag("-v,--verbose", settings->verbose, "Log each stage's jail setup on stderr");
  };
  auto* config = gitlab->add_subcommand("config", "config_exec: print the executor's settings as JSON");
  auto* prepare = gitlab->add_subcommand("prepare", "prepare_exec: check the policy, make the job's directories");
  auto* run = gitlab->add_subcommand("run", "run_exec SCRIPT STAGE: run one stage's script in a jail");
  auto* cleanup = gitlab->add_subcommand("cleanup", "cleanup_exec: remove the job's directories");
  for (auto* cmd : {config, prepare, run, cleanup}) common(cmd);
  run->add_option("--server", settings->server, "The GitLab instance's URL: the one host the runner's own stages reach")
      ->type_name("URL");
  run->add_option("--server-allow", settings->server_allow, "Another HOST[:PORT] for the runner's own stages (cache store)")
      ->type_name("HOST[:PORT]");
  run->add_option("script", *script, "The stage's script (given by the runner)")->required();
  run->add_option("stage", *stage, "The stage's name (given by the runner)")->required();
  return [=] {
    log::init(log::Level::normal);
    if (settings->state_dir.empty()) settings->state_dir = default_state_dir();
    const ci::gitlab::Env env = environment();
    if (config->parsed()) return ci::gitlab::config(*settings, env);
    if (prepare->parsed()) return ci::gitlab::prepare(*settings, env);
    if (run->parsed()) return ci::gitlab::run(*settings, env, *script, *stage);
    return ci::gitlab::cleanup(*settings, env);
  };
}

}  // namespace aj::cli
