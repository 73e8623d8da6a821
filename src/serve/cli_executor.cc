#include "serve/cli_executor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "base/strings.h"
#include "report/report.h"
#include "sys/files.h"
#include "sys/process.h"

namespace aj::serve {
namespace {

constexpr size_t kMaxReport = 64u << 20;  // stdout of run --json: the report and two capped captures
constexpr size_t kStderrKept = 4096;      // the end of agentjail's own messages, for an error report

std::string size_value(const std::optional<uint64_t>& value) {
  return value ? std::to_string(*value) : "\"unlimited\"";
}
std::string duration_value(const std::optional<uint64_t>& value) {
  return value ? "\"" + std::to_string(*value) + "ms\"" : "\"unlimited\"";
}

bool same_limits(const Limits& a, const Limits& b) {
  return a.wall_time_ms == b.wall_time_ms && a.cpu_time_ms == b.cpu_time_ms && a.memory_bytes == b.memory_bytes &&
         a.pids == b.pids && a.cpus == b.cpus && a.file_size_bytes == b.file_size_bytes && a.open_files == b.open_files &&
         a.stack_bytes == b.stack_bytes && a.core_size_bytes == b.core_size_bytes && a.output_bytes == b.output_bytes;
}

// A policy that is `base` with the request's limits: how limits without a run option reach run.
std::string tightened_policy(const std::string& name, const std::string& base, const Limits& limits) {
  std::string toml = "version = 1\nname = " + nlohmann::json(name).dump() + "\nextends = " + nlohmann::json(base).dump() +
                     "\n[limits]\n";
  toml += "wall_time = " + duration_value(limits.wall_time_ms) + "\n";
  toml += "cpu_time = " + duration_value(limits.cpu_time_ms) + "\n";
  toml += "memory = " + size_value(limits.memory_bytes) + "\n";
  toml += "pids = " + size_value(limits.pids) + "\n";
  if (limits.cpus) toml += "cpus = " + std::to_string(*limits.cpus) + "\n";
  toml += "file_size = " + size_value(limits.file_size_bytes) + "\n";
  toml += "open_files = " + size_value(limits.open_files) + "\n";
  toml += "stack = " + size_value(limits.stack_bytes) + "\n";
  toml += "core_size = " + std::to_string(limits.core_size_bytes) + "\n";
  toml += "output = " + std::to_string(limits.output_bytes) + "\n";
  return toml;
}

Status write_new_file(const std::string& path, std::string_view content, mode_t mode) {
  sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return fail_errno("create " + path);
  return sys::write_all(fd.get(), content);
}

// A file the jail may have written, read without following a symlink anywhere on its path
// (one could point at a host file the server can read); nullopt unless it is a regular file.
std::optional<std::string> read_inside(const std::string& base, const std::vector<std::string>& parts, size_t max) {
  sys::UniqueFd dir(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return std::nullopt;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    dir.reset(::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return std::nullopt;
  }
  sys::UniqueFd file(::openat(dir.get(), parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!file || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::string data;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(file.get(), buffer, sizeof buffer)) > 0) {
    data.append(buffer, static_cast<size_t>(n));
    if (data.size() > max) return std::nullopt;
  }
  return data;
}

}  // namespace

struct CliExecutor::Run {
  RunRequest request;
  RunCallbacks callbacks;
  sys::ScopedChild child;
  sys::UniqueFd out, err;      // read ends of run's stdout and stderr
  std::string report_text, stderr_tail;
  std::string scratch;         // "" when the run needs none
  std::map<std::string, std::string> binds;  // top-level directory -> host directory
  bool exited = false;
  double cancelled_at = 0;
};

CliExecutor::CliExecutor(CliExecutorConfig config) : config_(std::move(config)) {}

CliExecutor::~CliExecutor() {
  for (auto& [id, run] : runs_) {
    run->child.kill(SIGKILL);
    (void)run->child.wait();
    if (!run->scratch.empty()) std::filesystem::remove_all(run->scratch);
  }
}

ApiResult<void> CliExecutor::start(RunRequest request, RunCallbacks callbacks) {
  if (shutting_down_) return std::unexpected(ApiError{503, "the server is shutting down", 1});
  if (runs_.size() >= config_.max_jails) return std::unexpected(ApiError{503, "all jails are busy", 1});
  auto run = std::make_unique<Run>();
  const CliPolicy* policy = nullptr;
  if (!request.policy_toml) {
    auto found = config_.policies.find(request.policy);
    if (found == config_.policies.end()) return std::unexpected(ApiError{404, "unknown policy " + request.policy, std::nullopt});
    policy = &found->second;
  }

  // The scratch directory: files, collect, and any policy file the run needs.
  for (const std::string& path : [&] {
         std::vector<std::string> all;
         for (const auto& [p, c] : request.files) all.push_back(p);
         all.insert(all.end(), request.collect.begin(), request.collect.end());
         return all;
       }()) {
    auto parts = split(std::string_view(path).substr(1), '/');
    if (parts.size() < 2)
      return std::unexpected(ApiError{400, path + ": files and collected paths must be inside a directory (such as /work)", std::nullopt});
    for (const char* system : {"usr", "bin", "sbin", "lib", "lib32", "lib64", "etc", "proc", "dev", "sys"})
      if (parts[0] == system)
        return std::unexpected(ApiError{400, path + ": /" + parts[0] + " is the system's, not a place for files", std::nullopt});
    run->binds.emplace(parts[0], "");
  }
  const bool limits_differ = !policy || !same_limits(policy->limits, request.limits);
  if (!run->binds.empty() || limits_differ) {
    char scratch[] = "/tmp/agentjail-serve-XXXXXX";
    if (!::mkdtemp(scratch)) return std::unexpected(ApiError{503, "scratch directory: " + errno_text(errno), 1});
    run->scratch = scratch;
  }
  // Every refusal from here on removes the scratch first.
  auto give_up = [&](ApiError error) -> ApiResult<void> {
    if (!run->scratch.empty()) std::filesystem::remove_all(run->scratch);
    return std::unexpected(std::move(error));
  };
  auto busy = [](std::string what) { return ApiError{503, std::move(what), 1}; };
  std::vector<std::string> argv = {config_.agentjail, "run", "--json"};
  std::string policy_spec = policy ? policy->spec : "";
  if (request.policy_toml) {
    policy_spec = run->scratch + "/client-policy.toml";
    if (auto written = write_new_file(policy_spec, *request.policy_toml, 0644); !written)
      return give_up(busy(written.error().what()));
  }
  if (limits_differ) {
    std::string tightened = run->scratch + "/policy.toml";
    if (auto written = write_new_file(tightened, tightened_policy(request.policy, policy_spec, request.limits), 0644); !written)
      return give_up(busy(written.error().what()));
    policy_spec = tightened;
  }
  argv.insert(argv.end(), {"--policy", policy_spec});
  if (!config_.audit_log.empty()) argv.insert(argv.end(), {"--audit-log", config_.audit_log});
  for (const auto& [name, value] : request.env) argv.insert(argv.end(), {"--env", name + "=" + value});
  const bool root = ::geteuid() == 0;
  for (auto& [top, host] : run->binds) {
    host = run->scratch + "/" + top;
    if (::mkdir(host.c_str(), 0700) != 0) return give_up(busy("mkdir " + host + ": " + errno_text(errno)));
    argv.insert(argv.end(), {"--rw", host + ":/" + top});
  }
  for (const auto& [path, content] : request.files) {
    auto parts = split(std::string_view(path).substr(1), '/');
    std::string host = run->binds[parts[0]];
    for (size_t i = 1; i + 1 < parts.size(); ++i) {
      host += "/" + parts[i];
      if (::mkdir(host.c_str(), 0755) != 0 && errno != EEXIST)
        return give_up(busy("mkdir " + host + ": " + errno_text(errno)));
    }
    if (auto written = write_new_file(host + "/" + parts.back(), content, 0644); !written)
      return give_up(ApiError{400, "files: " + written.error().what(), std::nullopt});
  }
  if (root && !run->scratch.empty()) {
    // Run by root, the jail is an unprivileged host uid: give it the scratch, nobody else.
    uint32_t uid = policy ? policy->host_user : 65534, gid = policy ? policy->host_group : 65534;
    ::chmod(run->scratch.c_str(), 0711);
    for (const auto& entry : std::filesystem::recursive_directory_iterator(run->scratch))
      if (entry.path().filename() != "policy.toml" && entry.path().filename() != "client-policy.toml")
        ::lchown(entry.path().c_str(), uid, gid);
  }
  argv.push_back("--");
  argv.insert(argv.end(), request.command.begin(), request.command.end());

  // stdin: a memfd holding the bytes (run passes a file through to the command as it is).
  sys::UniqueFd input(::memfd_create("agentjail-stdin", MFD_CLOEXEC));
  if (!input || !sys::write_all(input.get(), request.stdin_data) || ::lseek(input.get(), 0, SEEK_SET) != 0)
    return give_up(busy("stdin memfd: " + errno_text(errno)));
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return give_up(busy("pipe: " + errno_text(errno)));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]), ::close(out[1]);
    return give_up(busy("pipe: " + errno_text(errno)));
  }
  std::vector<char*> args;
  for (std::string& word : argv) args.push_back(word.data());
  args.push_back(nullptr);
  sys::UniqueFd pidfd;
  auto pid = sys::clone3_fork(0, &pidfd, -1);
  if (pid && *pid == 0) {
    // The child: only async-signal-safe calls until exec. The server's blocked signals and
    // ignored SIGPIPE would be inherited by run; give it a clean slate.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(input.get(), 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execv(args[0], args.data());
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (!pid) {
    ::close(out[0]), ::close(err[0]);
    return give_up(busy(pid.error().what()));
  }
  run->child = sys::ScopedChild(*pid, std::move(pidfd));
  run->out.reset(out[0]);
  run->err.reset(err[0]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  run->request = std::move(request);
  run->callbacks = std::move(callbacks);
  std::string id = run->request.id;
  runs_.emplace(id, std::move(run));
  return {};
}

void CliExecutor::cancel(const std::string& id, CancelReason) {
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second->cancelled_at > 0) return;
  // As for a user's ^C: run kills the jail and still prints its report.
  it->second->child.kill(SIGTERM);
  it->second->cancelled_at = sys::monotonic_ms();
}

void CliExecutor::poll_fds(std::vector<pollfd>& fds) {
  for (const auto& [id, run] : runs_) {
    if (run->out) fds.push_back({run->out.get(), POLLIN, 0});
    if (run->err) fds.push_back({run->err.get(), POLLIN, 0});
    if (!run->exited) fds.push_back({run->child.pidfd(), POLLIN, 0});
  }
}

void CliExecutor::on_ready(int fd, short) {
  for (auto& [id, run] : runs_) {
    char buffer[65536];
    if (run->out && fd == run->out.get()) {
      ssize_t n;
      while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
        if (run->report_text.size() < kMaxReport) run->report_text.append(buffer, static_cast<size_t>(n));
      if (n == 0) run->out.reset();
    } else if (run->err && fd == run->err.get()) {
      ssize_t n;
      while ((n = ::read(fd, buffer, sizeof buffer)) > 0) {
        run->stderr_tail.append(buffer, static_cast<size_t>(n));
        if (run->stderr_tail.size() > kStderrKept) run->stderr_tail.erase(0, run->stderr_tail.size() - kStderrKept);
      }
      if (n == 0) run->err.reset();
    } else if (!run->exited && fd == run->child.pidfd()) {
      run->exited = true;
    }
  }
}

int CliExecutor::next_tick_ms() {
  for (const auto& [id, run] : runs_)
    if (run->cancelled_at > 0 || (run->exited && !run->out && !run->err)) return 100;
  return -1;
}

void CliExecutor::on_tick() {
  std::vector<std::string> done;
  double now = sys::monotonic_ms();
  for (auto& [id, run] : runs_) {
    if (run->cancelled_at > 0 && !run->exited && now - run->cancelled_at > config_.kill_after_ms) run->child.kill(SIGKILL);
    if (run->exited && !run->out && !run->err) done.push_back(id);
  }
  for (const std::string& id : done) finish(id);
}

void CliExecutor::finish(const std::string& id) {
  auto it = runs_.find(id);
  if (it == runs_.end()) return;
  std::unique_ptr<Run> run = std::move(it->second);
  runs_.erase(it);
  auto waited = run->child.wait();
  json report = json::parse(run->report_text, nullptr, false);
  if (report.is_discarded() || !report.is_object()) {
    report::Report failed;
    failed.id = run->request.id;
    failed.policy_name = run->request.policy;
    failed.command = run->request.command;
    failed.started_at = report::utc_timestamp_now();
    failed.error = "agentjail run printed no report (" +
                   (waited ? "status " + std::to_string(waited->status) : waited.error().what()) + "): " +
                   std::string(trim(run->stderr_tail));
    report = report::to_json(failed);
  }
  report["id"] = run->request.id;  // the id the client knows the run by
  CollectedFiles files;
  for (const std::string& path : run->request.collect) {
    auto parts = split(std::string_view(path).substr(1), '/');
    files[path] = read_inside(run->binds[parts[0]], {parts.begin() + 1, parts.end()}, config_.max_collected);
  }
  if (!run->scratch.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(run->scratch, ignored);
  }
  run->callbacks.on_done(std::move(report), std::move(files));
}

std::map<std::string, PoolState> CliExecutor::pools() const {
  std::map<std::string, PoolState> out;
  for (const auto& [name, target] : config_.pools) out[name] = PoolState{0, target};
  return out;
}

}  // namespace aj::serve
