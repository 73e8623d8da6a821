// GitLab Runner's custom executor, driven by `agentjail ci gitlab config|prepare|run|cleanup`
// (agentjail(1), "CI DRIVERS"; docs/ci-gitlab.md). The runner calls these four commands for each job; every
// stage of the job script (`run SCRIPT STAGE`) becomes one `agentjail run` of that script.
//
// This header is the pure part: what a job is called, where its directories are, how a stage
// is run and what the runner is told. The driver (driver.h) does the files and the processes.
// What comes from the runner's configuration (config_args/run_args on our command line) is
// trusted; what comes from the job (CUSTOM_ENV_* variables) is not, and decides nothing but
// which job directory is used.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace aj::ci::gitlab {

using Env = std::map<std::string, std::string>;

// Where the job sees its directories (what `config` tells the runner: builds_dir, cache_dir)
// and where the stage's script is bound.
inline constexpr std::string_view kBuildsDir = "/builds";
inline constexpr std::string_view kCacheDir = "/cache";
inline constexpr std::string_view kScriptInJail = "/run/agentjail-ci/script";

// The runner's configuration, from our command line only.
struct Settings {
  std::string policy = "ci";                // -p/--policy: built-in name or file
  std::string state_dir;                    // host directory with one directory per job
  std::string cache_dir;                    // host directory shared as /cache; empty: one per job
  std::string server;                       // --server: the GitLab instance's URL (the runner's `url`)
  std::vector<std::string> server_allow;    // --server-allow HOST[:PORT]: more hosts for the runner's own stages
  bool verbose = false;
};

// The exit codes the runner asked for, and the file the job's own code goes to.
struct ExitCodes {
  int build_failure = 1;
  int system_failure = 2;
  std::string exit_code_file;  // BUILD_EXIT_CODE_FILE; empty when the runner did not set it
};

// BUILD_FAILURE_EXIT_CODE, SYSTEM_FAILURE_EXIT_CODE and BUILD_EXIT_CODE_FILE from the runner's
// environment; an unset code keeps its default, a malformed one is an error.
Result<ExitCodes> exit_codes(const Env& env);

// The job's id (CUSTOM_ENV_CI_JOB_ID), which names its directory: digits only.
Result<std::string> job_id(const Env& env);

// A job's directories on the host, all below Settings::state_dir/<job id>.
struct JobPaths {
  std::string root;     // state_dir/<id>: made by prepare, removed by cleanup
  std::string builds;   // root/builds, seen in the jail as kBuildsDir
  std::string cache;    // Settings::cache_dir, or builds/.agentjail-cache
  std::string reports;  // root/reports: one report per stage, out of the job's reach
};
JobPaths job_paths(const Settings& settings, std::string_view id);

// Who runs a stage: the runner's own plumbing (fetching the sources, the cache and the
// artifacts from GitLab) or the job's code (the job's `script:` steps, after_script and the
// runner's preamble).
enum class StageKind { runner, job };

// The stage named by the runner (`run SCRIPT STAGE`): lower-case letters, digits and '_' (it
// names the stage's report file), and whether it is the runner's or the job's. Unknown names
// are the job's: new `step_*` stages carry the job's script.
Result<StageKind> stage_kind(std::string_view stage);

// "host:port" of the GitLab instance from its URL (http or https, default port of the scheme).
Result<std::string> server_endpoint(std::string_view url);

// How the jail reaches the job's directories and, for the runner's stages, the GitLab server:
// the `agentjail run` options of one stage. The builds directory is the run's workspace
// (read-write at kBuildsDir: the jail's files belong to the directory's owner, no chown); a
// shared --cache-dir is a read-write bind at kCacheDir, and without one the job's cache lives
// in its builds directory (kJobCacheDir).
struct Access {
  std::vector<std::string> options;
};
Result<Access> stage_access(const Settings& settings, const JobPaths& paths, StageKind kind);

// Where the job's cache is in the jail when the runner has no shared --cache-dir: inside the
// workspace, under a name no GitLab namespace can have (they do not start with '.').
inline constexpr std::string_view kJobCacheDir = "/builds/.agentjail-cache";

// The whole `agentjail run` command line of one stage, after the program name.
std::vector<std::string> stage_command(const Settings& settings, const Access& access, std::string_view script,
                                       std::string_view report_path);

// What `config` prints for the runner: `shared_cache` when --cache-dir is set.
std::string config_json(std::string_view hostname, std::string_view version, bool shared_cache);

// The code `run` ends with, from how the stage's `agentjail run` ended: `setup_error` says
// whether its report's status was setup_error (no report at all counts as one); `code` is its
// exit status.
struct StageEnd {
  int exit = 0;                   // what `agentjail ci gitlab run` exits with
  std::optional<int> build_code;  // what goes to BUILD_EXIT_CODE_FILE
};
StageEnd stage_end(const ExitCodes& codes, bool setup_error, int code);

}  // namespace aj::ci::gitlab
