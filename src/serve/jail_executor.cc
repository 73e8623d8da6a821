#include "serve/jail_executor.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "pipeline/pipeline.h"
#include "policy/overrides.h"
#include "report/audit.h"
#include "serve/scratch.h"
#include "sys/files.h"
#include "sys/process.h"

namespace aj::serve {
namespace {

constexpr size_t kReportSlack = 16u << 20;  // the report's JSON beside its two capped captures

std::string frame(char type, std::string_view bytes) {
  std::string out(1, type);
  const auto size = static_cast<uint32_t>(bytes.size());
  out.append(reinterpret_cast<const char*>(&size), sizeof size);
  out.append(bytes);
  return out;
}

void close_all_but(int a, int b) {
  if (a > b) std::swap(a, b);
  auto close_range = [](unsigned first, unsigned last) {
    if (first <= last) ::syscall(SYS_close_range, first, last, 0);
  };
  close_range(3, static_cast<unsigned>(a) - 1);
  close_range(static_cast<unsigned>(a) + 1, static_cast<unsigned>(b) - 1);
  close_range(static_cast<unsigned>(b) + 1, ~0u);
}

// The loaded policy a request runs under, with its limits, environment and scratch binds.
Result<policy::Loaded> policy_for(const JailExecutorConfig& config, const RunRequest& request,
                                  const std::map<std::string, std::string>& binds) {
  policy::Loaded loaded;
  policy::Diagnostics diagnostics;
  if (request.policy_toml) {
    // No base directory: a client's policy may extend the built-ins, never a file of the host.
    auto parsed = policy::load_text(*request.policy_toml, "client policy", "", diagnostics);
    if (!parsed) {
      std::string lines;
      for (const auto& diagnostic : diagnostics) lines += (lines.empty() ? "" : "\n") + diagnostic.format();
      return fail(EINVAL, lines);
    }
    loaded = std::move(*parsed);
  } else {
    loaded = config.policies.at(request.policy);
  }
  loaded.policy.limits = request.limits;  // the request's tightening, checked by the server
  policy::Overrides overrides;
  for (const auto& [name, value] : request.env) overrides.env.push_back(name + "=" + value);
  for (const auto& [top, host] : binds) overrides.rw.push_back(host + ":/" + top);
  if (!policy::apply_overrides(loaded.policy, overrides, "/", diagnostics)) {
    std::string lines;
    for (const auto& diagnostic : diagnostics) lines += (lines.empty() ? "" : "\n") + diagnostic.format();
    return fail(EINVAL, lines);
  }
  return loaded;
}

// The forked worker: one run, its frames on `result_fd`, then _exit.
[[noreturn]] void worker_main(const JailExecutorConfig& config, const RunRequest& request,
                              const std::vector<std::string>& tops, pid_t server, int result_fd, int stdin_fd) {
  // The server's blocked signals and descriptors are not the run's: a worker holding a client's
  // socket would keep that client waiting for EOF.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGCHLD, SIG_DFL);
  close_all_but(result_fd, stdin_fd);
  auto signals = pipeline::take_over_signals();
  // A SIGKILLed server still ends its runs: the worker gets SIGTERM and tears its jail down.
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0 || ::getppid() != server) _exit(1);

  report::Report report;
  report.id = request.id;
  report.started_at = report::utc_timestamp_now();
  report.command = request.command;
  report.policy_name = request.policy;
  auto send = [&](char type, std::string_view bytes) { (void)sys::write_all(result_fd, frame(type, bytes)); };

  std::string scratch;
  std::map<std::string, std::string> binds;
  std::string audit_log = config.audit_log;
  std::optional<host::IdLease> lease;  // held until the worker exits, after its jail
  const double started_ms = sys::monotonic_ms();
  Status ran = [&]() -> Status {
    if (!signals) return std::unexpected(signals.error());
    // The scratch files belong to the jail's host uid, known before the request's policy is
    // loaded (it binds the scratch): the server's policy's host_user, else (run by root) a
    // uid leased now for this run, which the pipeline then uses.
    uint32_t uid = 65534, gid = 65534;
    const policy::Process* process = request.policy_toml ? nullptr : &config.policies.at(request.policy).policy.process;
    if (::geteuid() == 0 && !(process && process->host_user && process->host_group)) {
      auto leased = host::lease_id(config.id_range, host::read_ids_in_use());
      if (!leased) return std::unexpected(leased.error());
      lease.emplace(std::move(*leased));
      uid = gid = lease->id();
    }
    if (process && process->host_user) uid = *process->host_user;
    if (process && process->host_group) gid = *process->host_group;
    if (!tops.empty()) {
      auto made = make_scratch(request, tops, uid, gid, binds);
      if (!made) return std::unexpected(made.error());
      scratch = *made;
    }
    auto loaded = policy_for(config, request, binds);
    if (!loaded) return std::unexpected(loaded.error().context("policy"));
    report.policy_name = loaded->policy.name;
    report.policy_source = loaded->source;
    if (audit_log.empty() && loaded->policy.audit_log) audit_log = *loaded->policy.audit_log;
    pipeline::Options options;
    options.capture = true;
    options.stdio.in = stdin_fd;
    options.verbose = config.verbose;
    options.signal_fd = signals->get();
    options.id_range = config.id_range;
    if (lease) options.lease = &*lease;
    options.on_output = [&](pipeline::Stream stream, std::string_view bytes) {
      send(stream == pipeline::Stream::out ? 'o' : 'e', bytes);
    };
    return pipeline::execute(loaded->policy, request.command, {}, options, report);
  }();
  if (!ran) {
    report.status = report::RunStatus::setup_error;
    report.error = ran.error().what();
    if (report.wall_time_ms == 0) report.wall_time_ms = sys::monotonic_ms() - started_ms;
  }
  // As run --json: the six capture fields in every report.
  if (!report.stdout_capture) report.stdout_capture = supervise::Capture{};
  if (!report.stderr_capture) report.stderr_capture = supervise::Capture{};
  if (!audit_log.empty()) (void)report::append_audit_line(audit_log, report, request.caller_uid);

  size_t budget = config.max_collected;  // for all collected files together
  for (auto& [path, contents] : collect_files(request, binds, config.max_collected)) {
    if (contents && contents->size() <= budget) {
      budget -= contents->size();
      const auto size = static_cast<uint32_t>(path.size());
      send('f', std::string(reinterpret_cast<const char*>(&size), sizeof size) + path + *contents);
    } else {
      send('m', path);
    }
  }
  if (!scratch.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
  }
  send('r', report::to_json(report).dump(-1, ' ', false, json::error_handler_t::replace));
  _exit(0);
}

}  // namespace

struct JailExecutor::Run {
  RunRequest request;
  RunCallbacks callbacks;
  sys::ScopedChild worker;
  sys::UniqueFd result;       // read end of the worker's frames
  std::string pending;        // bytes of frames not yet whole
  size_t received = 0;
  size_t max_received = 0;
  std::optional<json> report;
  CollectedFiles files;
  std::string problem;        // why the worker's frames were refused
  bool exited = false;
  double cancelled_at = 0;
};

JailExecutor::JailExecutor(JailExecutorConfig config) : config_(std::move(config)) {}

JailExecutor::~JailExecutor() {
  for (auto& [id, run] : runs_) {
    run->worker.kill(SIGKILL);
    (void)run->worker.wait();
  }
}

ApiResult<void> JailExecutor::start(RunRequest request, RunCallbacks callbacks) {
  auto busy = [](std::string what) { return std::unexpected(ApiError{503, std::move(what), 1}); };
  if (shutting_down_) return busy("the server is shutting down");
  if (runs_.size() >= config_.max_jails) return busy("all jails are busy");
  if (!request.policy_toml && !config_.policies.contains(request.policy))
    return std::unexpected(ApiError{404, "unknown policy " + request.policy, std::nullopt});
  auto tops = scratch_tops(request);
  if (!tops) return std::unexpected(tops.error());

  // stdin: a memfd holding the bytes, passed to the command as its stdin file.
  sys::UniqueFd input(::memfd_create("agentjail-stdin", MFD_CLOEXEC));
  if (!input || !sys::write_all(input.get(), request.stdin_data) || ::lseek(input.get(), 0, SEEK_SET) != 0)
    return busy("stdin memfd: " + errno_text(errno));
  int pipe[2];
  if (::pipe2(pipe, O_CLOEXEC) != 0) return busy("pipe: " + errno_text(errno));
  sys::UniqueFd read_end(pipe[0]), write_end(pipe[1]);
  const pid_t server = ::getpid();
  sys::UniqueFd pidfd;
  auto pid = sys::clone3_fork(0, &pidfd, -1);
  if (pid && *pid == 0) worker_main(config_, request, *tops, server, write_end.get(), input.get());
  if (!pid) return busy(pid.error().what());
  write_end.reset();
  ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);

  auto run = std::make_unique<Run>();
  run->worker = sys::ScopedChild(*pid, std::move(pidfd));
  run->result = std::move(read_end);
  run->max_received = 2 * request.limits.output_bytes + config_.max_collected + kReportSlack;
  run->request = std::move(request);
  run->callbacks = std::move(callbacks);
  std::string id = run->request.id;
  runs_.emplace(id, std::move(run));
  return {};
}

void JailExecutor::cancel(const std::string& id, CancelReason) {
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second->cancelled_at > 0 || it->second->exited) return;
  // As for a user's ^C of agentjail run: the worker kills the jail and still sends its report.
  it->second->worker.kill(SIGTERM);
  it->second->cancelled_at = sys::monotonic_ms();
}

void JailExecutor::poll_fds(std::vector<pollfd>& fds) {
  for (const auto& [id, run] : runs_) {
    if (run->result) fds.push_back({run->result.get(), POLLIN, 0});
    if (!run->exited) fds.push_back({run->worker.pidfd(), POLLIN, 0});
  }
}

void JailExecutor::on_ready(int fd, short) {
  for (auto& [id, run] : runs_) {
    if (!run->exited && fd == run->worker.pidfd()) {
      run->exited = true;
      continue;
    }
    if (!run->result || fd != run->result.get()) continue;
    char buffer[65536];
    ssize_t n;
    for (int round = 0; round < 16 && (n = ::read(fd, buffer, sizeof buffer)) > 0; ++round) {
      run->received += static_cast<size_t>(n);
      if (run->received > run->max_received) {
        run->problem = "the worker sent more than its run may produce";
        run->worker.kill(SIGKILL);
        run->result.reset();
        return;
      }
      run->pending.append(buffer, static_cast<size_t>(n));
    }
    if (n == 0) run->result.reset();
    // Whole frames: type, 32-bit length, bytes.
    size_t at = 0;
    while (run->pending.size() - at >= 5) {
      uint32_t size;
      std::memcpy(&size, run->pending.data() + at + 1, sizeof size);
      if (run->pending.size() - at - 5 < size) break;
      const char type = run->pending[at];
      std::string_view body(run->pending.data() + at + 5, size);
      at += 5 + size;
      if (type == 'o' || type == 'e') {
        if (run->callbacks.on_output) run->callbacks.on_output(type == 'o' ? Stream::out : Stream::err, body);
      } else if (type == 'f' && body.size() >= 4) {
        uint32_t path_size;
        std::memcpy(&path_size, body.data(), sizeof path_size);
        if (path_size <= body.size() - 4)
          run->files[std::string(body.substr(4, path_size))] = std::string(body.substr(4 + path_size));
      } else if (type == 'm') {
        run->files[std::string(body)] = std::nullopt;
      } else if (type == 'r') {
        json parsed = json::parse(body, nullptr, false);
        if (parsed.is_object()) run->report = std::move(parsed);
      }
    }
    run->pending.erase(0, at);
    return;
  }
}

int JailExecutor::next_tick_ms() {
  for (const auto& [id, run] : runs_)
    if (run->cancelled_at > 0 || (run->exited && !run->result)) return 100;
  return -1;
}

void JailExecutor::on_tick() {
  std::vector<std::string> done;
  const double now = sys::monotonic_ms();
  for (auto& [id, run] : runs_) {
    if (run->cancelled_at > 0 && !run->exited && now - run->cancelled_at > config_.kill_after_ms)
      run->worker.kill(SIGKILL);
    if (run->exited && !run->result) done.push_back(id);
  }
  for (const std::string& id : done) finish(id);
}

void JailExecutor::finish(const std::string& id) {
  auto it = runs_.find(id);
  if (it == runs_.end()) return;
  std::unique_ptr<Run> run = std::move(it->second);
  runs_.erase(it);
  auto waited = run->worker.wait();
  json report;
  if (run->report) {
    report = std::move(*run->report);
  } else {
    report::Report failed;
    failed.id = run->request.id;
    failed.policy_name = run->request.policy;
    failed.command = run->request.command;
    failed.started_at = report::utc_timestamp_now();
    failed.stdout_capture = supervise::Capture{};
    failed.stderr_capture = supervise::Capture{};
    std::string why = !run->problem.empty() ? run->problem
                      : waited               ? "status " + std::to_string(waited->status)
                                             : waited.error().what();
    failed.error = "the run's worker ended without a report (" + why + ")";
    report = report::to_json(failed);
  }
  report["id"] = run->request.id;  // the id the client knows the run by
  CollectedFiles files;
  for (const std::string& path : run->request.collect) {
    auto got = run->files.find(path);
    files[path] = got == run->files.end() ? std::nullopt : std::move(got->second);
  }
  run->callbacks.on_done(std::move(report), std::move(files));
}

std::map<std::string, PoolState> JailExecutor::pools() const {
  std::map<std::string, PoolState> out;
  for (const auto& [name, target] : config_.pools) out[name] = PoolState{0, target};
  return out;
}

}  // namespace aj::serve
