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
#include <functional>

#include "cgroup/cgroup.h"
#include "host/host.h"

#include "pipeline/pipeline.h"
#include "base/log.h"
#include "policy/overrides.h"
#include "report/audit.h"
#include "serve/pool.h"
#include "serve/scratch.h"
#include "sys/files.h"
#include "sys/process.h"

namespace aj::serve {
namespace {

constexpr size_t kReportSlack = 16u << 20;  // the report's JSON beside its two capped captures
constexpr size_t kMaxPooledRequest = 1u << 30;  // a request the server accepted (--max-body) and encoded
constexpr double kPoolRetryMs = 1000;  // after a pooled jail could not be built, before the next try

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

// What a forked worker does first: the server's blocked signals and descriptors are not the
// run's (a worker holding a client's socket would keep that client waiting for EOF); signals
// are taken over as `agentjail run` takes them; a SIGKILLed server still ends its runs (the
// worker gets SIGTERM and tears its jail down).
Result<sys::UniqueFd> worker_prologue(pid_t server, int keep_a, int keep_b) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGCHLD, SIG_DFL);
  close_all_but(keep_a, keep_b);
  auto signals = pipeline::take_over_signals();
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0 || ::getppid() != server) _exit(1);
  return signals;
}

// Runs `request` through `execute` (the pipeline, cold or in a pooled jail) and sends its
// frames on `result_fd`: output as it comes, the collected files, the report last.
using Execute = std::function<Status(const policy::Policy&, const pipeline::Options&, report::Report&)>;
void report_run(const JailExecutorConfig& config, const host::Host& host, const RunRequest& request,
                const std::vector<std::string>& tops, const Result<sys::UniqueFd>& signals, int result_fd,
                int stdin_fd, const Execute& execute) {
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
    // uid leased now for this run, which the pipeline then uses. Without files there is no
    // scratch, and the pipeline (or the pooled jail, which holds its own) leases instead.
    uint32_t uid = 65534, gid = 65534;
    const policy::Process* process = request.policy_toml ? nullptr : &config.policies.at(request.policy).policy.process;
    if (!tops.empty() && ::geteuid() == 0 && !(process && process->host_user && process->host_group)) {
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
    options.host = &host;
    options.remove_stale_cgroups = false;  // once, when the server started
    options.on_output = [&](pipeline::Stream stream, std::string_view bytes) {
      send(stream == pipeline::Stream::out ? 'o' : 'e', bytes);
    };
    return execute(loaded->policy, options, report);
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
}

// The forked worker of a cold run: one run, its frames on `result_fd`, then _exit.
[[noreturn]] void worker_main(const JailExecutorConfig& config, const host::Host& host, const RunRequest& request,
                              const std::vector<std::string>& tops, pid_t server, int result_fd, int stdin_fd) {
  auto signals = worker_prologue(server, result_fd, stdin_fd);
  report_run(config, host, request, tops, signals, result_fd, stdin_fd,
             [&](const policy::Policy& policy, const pipeline::Options& options, report::Report& report) {
               return pipeline::execute(policy, request.command, {}, options, report);
             });
  _exit(0);
}

bool read_exactly(int fd, char* data, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, data + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

// The worker of a pooled jail: builds the jail up to its command, says 'R' on `result_fd`,
// waits for one request on `request_fd` (a 32-bit length and encode_pooled_request's bytes),
// runs it and sends its frames as a cold worker does. Exits without a run when the server
// closes `request_fd` or signals it, or when the jail dies while waiting. Exit status 3: the
// jail could not be built (logged).
[[noreturn]] void pooled_worker_main(const JailExecutorConfig& config, const host::Host& host,
                                     const std::string& policy_name, pid_t server, int request_fd, int result_fd) {
  auto signals = worker_prologue(server, request_fd, result_fd);
  int status = [&]() -> int {
    if (!signals) return 3;
    pipeline::Options options;
    options.verbose = config.verbose;
    options.host = &host;
    options.remove_stale_cgroups = false;
    options.signal_fd = signals->get();
    options.id_range = config.id_range;
    const policy::Policy& policy = config.policies.at(policy_name).policy;
    auto warm = pipeline::prepare(policy, options, "pool-" + policy_name);
    if (!warm) {
      spdlog::error("pool {}: cannot build a jail: {}", policy_name, warm.error().what());
      return 3;
    }
    if (!sys::write_all(result_fd, "R")) return 0;
    pollfd fds[4] = {{request_fd, POLLIN, 0}, {signals->get(), POLLIN, 0}, {(*warm)->sync_fd(), POLLIN, 0},
                     {(*warm)->init_pidfd(), POLLIN, 0}};
    while (::poll(fds, 4, -1) < 0)
      if (errno != EINTR) return 0;
    if (!(fds[0].revents & POLLIN) || fds[1].revents || fds[2].revents || fds[3].revents) return 0;
    uint32_t size = 0;
    if (!read_exactly(request_fd, reinterpret_cast<char*>(&size), sizeof size) || size > kMaxPooledRequest) return 0;
    std::string bytes(size, '\0');
    if (!read_exactly(request_fd, bytes.data(), size)) return 0;
    auto request = decode_pooled_request(bytes);
    if (!request) return 0;
    sys::UniqueFd input(::memfd_create("agentjail-stdin", MFD_CLOEXEC));
    if (!input || !sys::write_all(input.get(), request->stdin_data) || ::lseek(input.get(), 0, SEEK_SET) != 0)
      return 0;
    report_run(config, host, *request, {}, signals, result_fd, input.get(),
               [&](const policy::Policy& tightened, const pipeline::Options& run_options, report::Report& report) {
                 return pipeline::run_in(**warm, tightened, request->command, {}, run_options, report);
               });
    return 0;
  }();  // the jail (pid 1 and its cgroup) is gone here
  _exit(status);
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
  std::string pool;           // the policy whose pooled jail runs it, until it ends
};

// A worker holding a jail that waits for its command.
struct JailExecutor::Pooled {
  std::string policy;
  sys::ScopedChild worker;
  sys::UniqueFd request;  // write end: the one request, when it comes
  sys::UniqueFd result;   // read end: 'R' once the jail waits, then the run's frames
  bool ready = false;
  bool ended = false;     // its worker exited (pidfd readable) before it got a request
};

JailExecutor::JailExecutor(JailExecutorConfig config)
    : config_(std::move(config)), host_(std::make_unique<host::Host>(host::probe())) {
  // Once per server: the host does not change under it, and stale cgroups are those of
  // earlier servers and runs (this server's workers hold the locks of theirs).
  cgroup::remove_stale(*host_);
  for (const auto& [name, target] : config_.pools) pool_stats_[name].target = target;
}

JailExecutor::~JailExecutor() {
  for (auto& [id, run] : runs_) {
    run->worker.kill(SIGKILL);
    (void)run->worker.wait();
  }
  // An idle pooled worker tears its jail and cgroup down on SIGTERM (SIGKILL would leave the
  // cgroup directory to the next start's sweep).
  for (auto& pooled : pooled_) pooled->worker.kill(SIGTERM);
  for (auto& pooled : pooled_) (void)pooled->worker.wait();
}

bool JailExecutor::idle() const { return runs_.empty() && pooled_.empty(); }

void JailExecutor::begin_shutdown() {
  shutting_down_ = true;
  for (auto& pooled : pooled_) pooled->worker.kill(SIGTERM);
}

void JailExecutor::refill() {
  if (shutting_down_) return;
  const double now = sys::monotonic_ms();
  for (const auto& [name, target] : config_.pools) {
    auto& stats = pool_stats_[name];
    if (stats.retry_at > now) continue;
    // A pooled jail running its command still counts: its replacement is built once it ends,
    // not while it runs, so that building it does not compete with the run for the CPU.
    unsigned have = 0;
    for (const auto& pooled : pooled_) have += pooled->policy == name;
    for (const auto& [id, run] : runs_) have += run->pool == name;
    for (; have < target; ++have)
      if (!start_pooled(name)) {
        stats.retry_at = now + kPoolRetryMs;
        break;
      }
  }
}

bool JailExecutor::start_pooled(const std::string& name) {
  int requests[2], results[2];
  if (::pipe2(requests, O_CLOEXEC) != 0) return false;
  sys::UniqueFd request_read(requests[0]), request_write(requests[1]);
  if (::pipe2(results, O_CLOEXEC) != 0) return false;
  sys::UniqueFd result_read(results[0]), result_write(results[1]);
  const pid_t server = ::getpid();
  sys::UniqueFd pidfd;
  auto pid = sys::clone3_fork(0, &pidfd, -1);
  if (pid && *pid == 0) pooled_worker_main(config_, *host_, name, server, request_read.get(), result_write.get());
  if (!pid) {
    spdlog::error("pool {}: cannot fork a worker: {}", name, pid.error().what());
    return false;
  }
  ::fcntl(result_read.get(), F_SETFL, O_NONBLOCK);
  auto pooled = std::make_unique<Pooled>();
  pooled->policy = name;
  pooled->worker = sys::ScopedChild(*pid, std::move(pidfd));
  pooled->request = std::move(request_write);
  pooled->result = std::move(result_read);
  pooled_.push_back(std::move(pooled));
  return true;
}

void JailExecutor::pooled_event(Pooled& pooled, int fd) {
  if (fd == pooled.worker.pidfd()) {
    pooled.ended = true;
    return;
  }
  char byte = 0;
  ssize_t n = ::read(fd, &byte, 1);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n == 1 && byte == 'R') {
    pooled.ready = true;
    return;
  }
  pooled.worker.kill(SIGKILL);  // anything else before a request: the worker is not well
  pooled.result.reset();
}

void JailExecutor::reap_pooled() {
  for (auto it = pooled_.begin(); it != pooled_.end();) {
    if (!(*it)->ended) {
      ++it;
      continue;
    }
    auto waited = (*it)->worker.wait();
    if (!(*it)->ready && !shutting_down_) {
      // Built nothing: do not fork again at once (the worker logged why).
      pool_stats_[(*it)->policy].retry_at = sys::monotonic_ms() + kPoolRetryMs;
      if (waited && waited->status != 0) spdlog::warn("pool {}: the jail could not be built", (*it)->policy);
    }
    it = pooled_.erase(it);
  }
}

// The ready pooled jail that takes `request`, or null (no pool, none ready, or it cannot).
JailExecutor::Pooled* JailExecutor::take_pooled(const RunRequest& request) {
  if (request.policy_toml || !config_.pools.contains(request.policy)) return nullptr;
  auto& stats = pool_stats_[request.policy];
  if (pool_refusal(request, config_.policies.at(request.policy).policy.limits)) {
    ++stats.cold;
    return nullptr;
  }
  for (auto& pooled : pooled_)
    if (pooled->policy == request.policy && pooled->ready && !pooled->ended) return pooled.get();
  ++stats.cold;  // the pool is empty just now
  return nullptr;
}

ApiResult<void> JailExecutor::start(RunRequest request, RunCallbacks callbacks) {
  auto busy = [](std::string what) { return std::unexpected(ApiError{503, std::move(what), 1}); };
  if (shutting_down_) return busy("the server is shutting down");
  if (runs_.size() >= config_.max_jails) return busy("all jails are busy");
  if (!request.policy_toml && !config_.policies.contains(request.policy))
    return std::unexpected(ApiError{404, "unknown policy " + request.policy, std::nullopt});
  auto tops = scratch_tops(request);
  if (!tops) return std::unexpected(tops.error());

  if (Pooled* pooled = take_pooled(request)) {
    const std::string bytes = encode_pooled_request(request);
    const auto size = static_cast<uint32_t>(bytes.size());
    std::string message(reinterpret_cast<const char*>(&size), sizeof size);
    message += bytes;
    if (bytes.size() <= kMaxPooledRequest && sys::write_all(pooled->request.get(), message)) {
      ++pool_stats_[request.policy].served;
      auto run = std::make_unique<Run>();
      run->worker = std::move(pooled->worker);
      run->result = std::move(pooled->result);
      run->max_received = 2 * request.limits.output_bytes + config_.max_collected + kReportSlack;
      run->request = std::move(request);
      run->callbacks = std::move(callbacks);
      run->pool = run->request.policy;
      std::string id = run->request.id;
      runs_.emplace(id, std::move(run));
      std::erase_if(pooled_, [&](const auto& p) { return p.get() == pooled; });
      return {};  // its replacement is built when it ends (refill)
    }
    // The worker is gone or broken: drop it and build this run cold.
    pooled->worker.kill(SIGKILL);
    pooled->ended = true;
  }

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
  if (pid && *pid == 0) worker_main(config_, *host_, request, *tops, server, write_end.get(), input.get());
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
  for (const auto& pooled : pooled_) {
    if (pooled->ended) continue;
    if (!pooled->ready && pooled->result) fds.push_back({pooled->result.get(), POLLIN, 0});
    fds.push_back({pooled->worker.pidfd(), POLLIN, 0});
  }
}

void JailExecutor::on_ready(int fd, short) {
  for (auto& pooled : pooled_) {
    if (pooled->ended || (fd != pooled->worker.pidfd() && fd != pooled->result.get())) continue;
    pooled_event(*pooled, fd);
    return;
  }
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
  for (const auto& pooled : pooled_)
    if (pooled->ended) return 0;
  int tick = -1;
  if (!shutting_down_) {
    // A pool below its target refills now, or when its retry is due.
    const double now = sys::monotonic_ms();
    for (const auto& [name, target] : config_.pools) {
      unsigned have = 0;
      for (const auto& pooled : pooled_) have += pooled->policy == name;
      for (const auto& [id, run] : runs_) have += run->pool == name;
      if (have >= target) continue;
      const double retry_at = pool_stats_.at(name).retry_at;
      int wait = retry_at > now ? static_cast<int>(retry_at - now) + 1 : 0;
      if (tick < 0 || wait < tick) tick = wait;
    }
  }
  for (const auto& [id, run] : runs_)
    if (run->cancelled_at > 0 || (run->exited && !run->result)) return tick >= 0 && tick < 100 ? tick : 100;
  return tick;
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
  reap_pooled();
  refill();
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
  for (const auto& [name, stats] : pool_stats_) {
    PoolState state{0, stats.target, stats.served, stats.cold};
    for (const auto& pooled : pooled_) state.ready += pooled->policy == name && pooled->ready && !pooled->ended;
    out[name] = state;
  }
  return out;
}

}  // namespace aj::serve
