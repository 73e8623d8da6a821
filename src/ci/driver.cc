// The custom executor's commands: files under the state directory, one `agentjail run` per
// stage (this same binary, exec'd with the stage's command line; see stage_command()).
#include "ci/driver.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "base/version.h"
#include "policy/load.h"
#include "sys/files.h"
#include "sys/remove_tree.h"

namespace aj::ci::gitlab {
namespace {

// Our own failure, as the runner wants to hear it: one line in the job's log, the system
// failure code.
int system_failure(const ExitCodes& codes, const std::string& message) {
  log::error_line("ci gitlab: " + message);
  return codes.system_failure;
}

ExitCodes codes_or_default(const Env& env) {
  auto codes = exit_codes(env);
  if (!codes) {
    log::error_line("ci gitlab: " + codes.error().what());
    return ExitCodes{};
  }
  return *codes;
}

// The policy given in the runner's configuration, loaded to check it and to learn which host
// ids its jail's user has.
Result<policy::Loaded> load_policy(const Settings& settings) {
  policy::Diagnostics diagnostics;
  auto loaded = policy::load(settings.policy, diagnostics);
  if (!diagnostics.empty() || !loaded) {
    std::string text = "policy " + settings.policy + ":";
    for (const auto& diagnostic : diagnostics) text += "\n" + diagnostic.format();
    return fail(EINVAL, text);
  }
  return std::move(*loaded);
}

Status make_dir(const std::string& path, mode_t mode, bool exclusive) {
  if (::mkdir(path.c_str(), mode) == 0) return {};
  if (errno == EEXIST && !exclusive) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    return fail(EEXIST, "mkdir " + path + ": exists and is not a directory");
  }
  return fail_errno("mkdir " + path);
}

Status check_settings(const Settings& settings) {
  for (const std::string* path : {&settings.state_dir, &settings.cache_dir}) {
    if (path->empty()) continue;
    if (path->front() != '/' || path->find(':') != std::string::npos)
      return fail(EINVAL, aj::quoted(*path) + ": expected an absolute path without ':'");
  }
  return {};
}

Status write_exit_code(const std::string& path, int code) {
  sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return fail_errno("open BUILD_EXIT_CODE_FILE " + path);
  return sys::write_all(fd.get(), std::to_string(code));
}

pid_t g_child = -1;
void forward_signal(int signal) {
  if (g_child > 0) ::kill(g_child, signal);
}

// Runs `agentjail run ARGS...` (this binary) with stdin, stdout and stderr ours, and a clean
// environment: nothing of the job's variables reaches agentjail's own option parsing.
Result<int> run_agentjail(const std::vector<std::string>& args) {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return fail_errno("readlink /proc/self/exe");
  self[n] = '\0';
  std::vector<char*> argv;
  std::string program = "agentjail";
  argv.push_back(program.data());
  std::vector<std::string> words = args;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  char path_var[] = "PATH=/usr/local/bin:/usr/bin:/bin";
  char* envp[] = {path_var, nullptr};
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    // The runner kills us (SIGKILL after its grace time): the stage's agentjail goes too, and
    // takes its jail with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    ::execve(self, argv.data(), envp);
    ::_exit(125);
  }
  g_child = pid;
  // A cancelled or timed-out job gets SIGTERM: agentjail run ends the jail and still writes
  // its report.
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) {
    struct sigaction action {};
    action.sa_handler = forward_signal;
    ::sigaction(signal, &action, nullptr);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return fail_errno("waitpid");
  g_child = -1;
  if (!WIFEXITED(status)) return fail(EIO, "agentjail run was killed by signal " + std::to_string(WTERMSIG(status)));
  return WEXITSTATUS(status);
}

}  // namespace

int config(const Settings& settings, const Env& env) {
  const ExitCodes codes = codes_or_default(env);
  if (auto ok = check_settings(settings); !ok) return system_failure(codes, ok.error().what());
  if (auto loaded = load_policy(settings); !loaded) return system_failure(codes, loaded.error().what());
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "agentjail");
  std::fputs(config_json(host, AGENTJAIL_VERSION, !settings.cache_dir.empty()).c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : codes.system_failure;
}

int prepare(const Settings& settings, const Env& env) {
  const ExitCodes codes = codes_or_default(env);
  if (auto ok = check_settings(settings); !ok) return system_failure(codes, ok.error().what());
  auto loaded = load_policy(settings);
  if (!loaded) return system_failure(codes, loaded.error().what());
  auto id = job_id(env);
  if (!id) return system_failure(codes, id.error().what());
  const JobPaths paths = job_paths(settings, *id);
  auto access = stage_access(settings, paths, StageKind::job);
  if (!access) return system_failure(codes, access.error().what());
  // The job's directory is new: a job id seen twice (a job variable naming another job) is
  // refused rather than sharing that job's files.
  Status made = make_dir(settings.state_dir, 0711, false);
  if (made) made = make_dir(paths.root, 0711, true);
  if (made) made = make_dir(paths.builds, 0700, false);
  if (made) made = make_dir(paths.reports, 0700, false);
  if (made && settings.cache_dir.empty()) made = make_dir(paths.cache, 0755, false);
  if (!made) return system_failure(codes, made.error().what());
  std::printf("agentjail %s: policy %s (%s), job directory %s\n", AGENTJAIL_VERSION, loaded->policy.name.c_str(),
              loaded->source.c_str(), paths.root.c_str());
  return 0;
}

int run(const Settings& settings, const Env& env, const std::string& script, const std::string& stage) {
  const ExitCodes codes = codes_or_default(env);
  if (auto ok = check_settings(settings); !ok) return system_failure(codes, ok.error().what());
  auto kind = stage_kind(stage);
  if (!kind) return system_failure(codes, kind.error().what());
  if (script.empty() || script.front() != '/' || script.find(':') != std::string::npos)
    return system_failure(codes, "script " + aj::quoted(script) + ": expected an absolute path without ':'");
  auto loaded = load_policy(settings);
  if (!loaded) return system_failure(codes, loaded.error().what());
  auto id = job_id(env);
  if (!id) return system_failure(codes, id.error().what());
  const JobPaths paths = job_paths(settings, *id);
  auto access = stage_access(settings, paths, *kind);
  if (!access) return system_failure(codes, access.error().what());
  const std::string report_path = paths.reports + "/" + stage + ".json";
  auto code = run_agentjail(stage_command(settings, *access, script, report_path));
  if (!code) return system_failure(codes, code.error().what());

  bool setup_error = true;
  if (auto text = sys::read_file(report_path)) {
    auto report = nlohmann::json::parse(*text, nullptr, false);
    if (report.is_object() && report.contains("status") && report["status"].is_string())
      setup_error = report["status"] == "setup_error";
  }
  const StageEnd end = stage_end(codes, setup_error, *code);
  if (end.build_code && !codes.exit_code_file.empty())
    if (auto written = write_exit_code(codes.exit_code_file, *end.build_code); !written)
      return system_failure(codes, written.error().what());
  return end.exit;
}

int cleanup(const Settings& settings, const Env& env) {
  const ExitCodes codes = codes_or_default(env);
  if (auto ok = check_settings(settings); !ok) return system_failure(codes, ok.error().what());
  auto id = job_id(env);
  if (!id) return system_failure(codes, id.error().what());
  if (auto removed = sys::remove_tree(job_paths(settings, *id).root); !removed)
    return system_failure(codes, removed.error().what());
  return 0;
}

}  // namespace aj::ci::gitlab
