#include "fake_executor.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <charconv>
#include <cmath>

#include "base/strings.h"
#include "report/report.h"
#include "sys/process.h"

namespace aj::test {

FakeExecutor::FakeExecutor() : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
FakeExecutor::~FakeExecutor() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

serve::ApiResult<void> FakeExecutor::start(serve::RunRequest request, serve::RunCallbacks callbacks) {
  if (request.command[0] == "busy") return std::unexpected(serve::ApiError{503, "no jail can be had now", 2});
  if (shutting_down_) return std::unexpected(serve::ApiError{503, "shutting down", 1});
  started.push_back(request);
  Run run;
  run.started = sys::monotonic_ms();
  run.due = run.started;
  const auto& command = request.command;
  if (command[0] == "sleep" && command.size() > 1) run.due += std::atof(command[1].c_str()) * 1000;
  if (command[0] == "spew" && command.size() > 1) {
    size_t bytes = std::strtoul(command[1].c_str(), nullptr, 10);
    while (run.spew.size() < bytes) run.spew += "\xC3\xA9";
    run.spew.resize(bytes);
  }
  run.request = std::move(request);
  run.callbacks = std::move(callbacks);
  std::string id = run.request.id;
  runs_.emplace(id, std::move(run));
  return {};
}

void FakeExecutor::cancel(const std::string& id, serve::CancelReason reason) {
  auto it = runs_.find(id);
  if (it == runs_.end()) return;
  cancels.emplace_back(id, reason);
  it->second.cancelled = true;
  it->second.due = sys::monotonic_ms();
}

void FakeExecutor::poll_fds(std::vector<pollfd>& fds) { fds.push_back({wake_fd_, POLLIN, 0}); }
void FakeExecutor::on_ready(int fd, short) {
  uint64_t value;
  if (fd == wake_fd_) (void)!::read(wake_fd_, &value, sizeof value);
}

int FakeExecutor::next_tick_ms() {
  if (runs_.empty()) return -1;
  double now = sys::monotonic_ms(), due = 1e18;
  for (const auto& [id, run] : runs_) due = std::min(due, run.spew.empty() ? run.due : now);
  return static_cast<int>(std::max(0.0, std::ceil(due - now)));
}

void FakeExecutor::on_tick() {
  double now = sys::monotonic_ms();
  std::vector<std::string> done;
  for (auto& [id, run] : runs_) {
    if (!run.spew.empty() && !run.cancelled) {
      // Pieces of 7 bytes: every other one ends inside a two-byte character.
      for (int i = 0; i < 64 && !run.spew.empty(); ++i) {
        size_t n = std::min<size_t>(7, run.spew.size());
        run.callbacks.on_output(serve::Stream::out, std::string_view(run.spew).substr(0, n));
        run.spew.erase(0, n);
      }
      if (!run.spew.empty()) continue;
    }
    if (run.due <= now) done.push_back(id);
  }
  for (const std::string& id : done) {
    auto it = runs_.find(id);
    if (it == runs_.end()) continue;
    Run run = std::move(it->second);
    runs_.erase(it);
    finish(run);  // may call back into the server, which never calls start() from inside it
  }
}

std::map<std::string, serve::PoolState> FakeExecutor::pools() const { return pool_state; }

void FakeExecutor::finish(Run& run) {
  const auto& request = run.request;
  const auto& command = request.command;
  report::Report report;
  report.id = request.id;
  report.policy_name = request.policy;
  report.policy_source = "builtin:" + request.policy;
  report.policy_sha256 = std::string(64, '0');
  report.command = command;
  report.started_at = report::utc_timestamp_now();
  report.wall_time_ms = sys::monotonic_ms() - run.started;
  report.cpu_user_ms = 0;
  report.cpu_system_ms = 0;
  report.memory_peak_bytes = 1 << 20;
  report.memory_source = "rusage";
  report.pids_peak = 1;
  report.limit_wall_time_ms = request.limits.wall_time_ms;
  report.limit_cpu_time_ms = request.limits.cpu_time_ms;
  report.limit_memory_bytes = request.limits.memory_bytes;
  report.limit_pids = request.limits.pids;
  std::string out, err;
  int code = 0;
  const std::string& verb = command[0];
  std::vector<std::string> rest(command.begin() + 1, command.end());
  if (verb == "echo") out = join(rest, " ") + "\n";
  else if (verb == "cat") out = request.stdin_data;
  else if (verb == "stderr") err = join(rest, " ") + "\n";
  else if (verb == "fail") code = rest.empty() ? 1 : std::atoi(rest[0].c_str());
  else if (verb == "spew" || verb == "sleep") {}
  else if (verb == "env") out = rest.empty() || !request.env.contains(rest[0]) ? "" : request.env.at(rest[0]);
  else if (verb != "setup_error") code = 127, err = "agentjail: " + verb + ": command not found\n";
  if (verb == "setup_error") {
    report.status = report::RunStatus::setup_error;
    report.error = "build-root: mount /usr: No such file or directory";
  } else if (run.cancelled) {
    report.status = report::RunStatus::signal;
    report.signal = SIGKILL;
  } else {
    report.exit_code = code;
    report.status = code == 0 ? report::RunStatus::ok : report::RunStatus::exit;
  }
  if (verb != "setup_error") {
    if (verb == "spew" && command.size() > 1) {
      size_t bytes = std::strtoul(command[1].c_str(), nullptr, 10);
      std::string all;
      while (all.size() < bytes) all += "\xC3\xA9";
      all.resize(bytes);
      out = all;
    }
    const uint64_t keep = request.limits.output_bytes;
    report.stdout_capture = supervise::Capture{out.substr(0, keep), out.size()};
    report.stderr_capture = supervise::Capture{err.substr(0, keep), err.size()};
  }
  serve::CollectedFiles files;
  for (const std::string& path : request.collect) {
    if (path.starts_with("/missing")) files[path] = std::nullopt;
    else if (auto written = request.files.find(path); written != request.files.end()) files[path] = written->second;
    else files[path] = "collected " + path;
  }
  run.callbacks.on_done(report::to_json(report), std::move(files));
}

}  // namespace aj::test
