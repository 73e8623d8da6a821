#include "pipeline/pipeline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "base/log.h"
#include "cgroup/cgroup.h"
#include "host/host.h"
#include "jail/handoff.h"
#include "jail/spawn.h"
#include "net/broker.h"
#include "plan/build.h"
#include "plan/identity.h"
#include "plan/stdio.h"
#include "policy/emit.h"
#include "report/record.h"
#include "seccomp/precompiled.h"
#include "supervise/supervisor.h"
#include "workspace/changes.h"
#include "workspace/prepare.h"

namespace aj::pipeline {
namespace {

// With -v, how long each stage of the pipeline took, as the init logs its steps: where the
// time of a run goes, on the user's own host (bench/README.md has the same breakdown).
class StageClock {
 public:
  StageClock() : last_(sys::monotonic_ms()) {}
  void done(const char* stage) {
    double now = sys::monotonic_ms();
    spdlog::info("stage {}: {:.3f} ms", stage, now - last_);
    last_ = now;
  }

 private:
  double last_;
};

struct CapturePipes {
  sys::UniqueFd read_end, write_end;
};

// Whether the caller's stdin could carry the jail's writes to where our stdout goes: a socket
// (its other end reads what we print) or the very file stdout is.
bool stdin_reaches_stdout() {
  struct stat in {}, out {};
  if (::fstat(STDIN_FILENO, &in) != 0) return false;
  if (S_ISSOCK(in.st_mode)) return true;
  return ::fstat(STDOUT_FILENO, &out) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino;
}

// A pipe for the jail's standard streams, owned by the jail's host uid and gid: it may reopen
// it through /proc/self/fd (plan/stdio.h). A pipe belongs to its creator's filesystem ids, so
// run by root it is made with those set to the jail's (setfsuid needs CAP_SETUID, which
// writing the id maps needs anyway; fchown would need CAP_CHOWN, which a container's root
// may lack). Single-threaded here: the filesystem ids are per thread.
Status jail_pipe(const plan::Plan& plan, int fds[2]) {
  if (plan.host_ids == plan::HostIds::subordinate) {
    // An ordinary caller can give a pipe neither to another uid nor make it with one: it is
    // opened to every uid by its mode instead. Reopening through /proc/PID/fd needs ptrace
    // access to a process holding it, which only the jail (its subordinate uid is leased to it
    // alone) and the caller's own processes have.
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe");
    if (::fchmod(fds[0], 0666) == 0) return {};
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return fail(err, "fchmod a pipe of the jail's standard streams");
  }
  if (!plan.caller_is_root) return ::pipe2(fds, O_CLOEXEC) == 0 ? Status{} : fail_errno("pipe");
  // A change of filesystem ids clears our parent-death signal and dumpability, as any
  // credential change does: both are put back (a serve worker relies on the first to end
  // with its server), and a parent that died meanwhile gets the signal it would have sent.
  int death_signal = 0;
  (void)::prctl(PR_GET_PDEATHSIG, &death_signal, 0, 0, 0);
  const int dumpable = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  const pid_t parent = ::getppid();
  const int old_gid = ::setfsgid(plan.gid_map.outside);
  const int old_uid = ::setfsuid(plan.uid_map.outside);
  const int made = ::pipe2(fds, O_CLOEXEC);
  const int err = errno;
  ::setfsuid(static_cast<uid_t>(old_uid));
  ::setfsgid(static_cast<gid_t>(old_gid));
  if (dumpable >= 0) (void)::prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0);
  if (death_signal != 0) {
    (void)::prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0);
    if (::getppid() != parent) ::raise(death_signal);
  }
  if (made != 0) return fail(err, "pipe");
  struct stat st{};
  if (::fstat(fds[0], &st) == 0 && st.st_uid == plan.uid_map.outside && st.st_gid == plan.gid_map.outside) return {};
  ::close(fds[0]);
  ::close(fds[1]);
  return fail(EPERM, "a pipe for the jail's standard streams could not be made its host uid's (setfsuid needs "
                     "CAP_SETUID)");
}

plan::StreamFacts facts_of(int fd) {
  plan::StreamFacts facts;
  struct stat st{};
  if (::fstat(fd, &st) != 0) return facts;
  facts.open = true;
  facts.terminal = ::isatty(fd) == 1;
  facts.mode = st.st_mode;
  facts.uid = st.st_uid;
  facts.gid = st.st_gid;
  return facts;
}

bool same_file(int a, int b) {
  struct stat sa{}, sb{};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// The streams the jail could not reopen as they are go through relays: `stdio` then names
// the jail's ends of their pipes, kept open in `jail_ends` until the jail has them. With
// capture, stdout and stderr are capture pipes already; 2>&1 (one file on 1 and 2) shares one
// relay, so the order of the two streams' writes is kept.
Status route_streams(const plan::Plan& plan, bool capture, jail::Stdio& stdio, std::vector<supervise::Relay>& relays,
                     std::vector<sys::UniqueFd>& jail_ends) {
  int* slots[3] = {&stdio.in, &stdio.out, &stdio.err};
  int relayed_out = -1;  // the caller's fd stdout is relayed from, and the jail's end for it
  int relayed_out_jail = -1;
  for (int n = 0; n < 3; ++n) {
    const bool output = n > 0;
    if (capture && output) continue;
    const int callers = *slots[n] >= 0 ? *slots[n] : n;
    if (!plan::needs_relay(facts_of(callers), plan, output)) continue;
    if (n == 2 && relayed_out >= 0 && same_file(relayed_out, callers)) {
      *slots[n] = relayed_out_jail;
      continue;
    }
    int fds[2];
    if (auto made = jail_pipe(plan, fds); !made)
      return std::unexpected(made.error().context("a relay for the jail's standard streams"));
    sys::UniqueFd read_end(fds[0]), write_end(fds[1]);
    sys::UniqueFd ours = output ? std::move(read_end) : std::move(write_end);
    sys::UniqueFd theirs = output ? std::move(write_end) : std::move(read_end);
    if (::fcntl(ours.get(), F_SETFL, O_NONBLOCK) != 0) return fail_errno("fcntl O_NONBLOCK");
    *slots[n] = theirs.get();
    if (n == 1) relayed_out = callers, relayed_out_jail = theirs.get();
    relays.emplace_back(std::move(ours), callers,
                        output ? supervise::Relay::Direction::from_jail : supervise::Relay::Direction::to_jail);
    jail_ends.push_back(std::move(theirs));
  }
  return {};
}

// process.new_session = false with agentjail in the terminal's foreground: the command's
// group takes the terminal over (jail/steps/process.cc), and this gives it back to agentjail's
// group when the run ends, as a shell does when a job ends.
class TerminalHandback {
 public:
  void arm() { armed_ = true; }
  ~TerminalHandback() {
    if (!armed_) return;
    // From a background group, tcsetpgrp raises SIGTTOU: blocked for the call.
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    ::sigprocmask(SIG_BLOCK, &ttou, &old);
    (void)::tcsetpgrp(STDIN_FILENO, ::getpgrp());
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
  }

 private:
  bool armed_ = false;
};

Result<CapturePipes> capture_pipe(const plan::Plan& plan) {
  int fds[2];
  if (auto made = jail_pipe(plan, fds); !made) return std::unexpected(made.error().context("capture"));
  CapturePipes pipes{sys::UniqueFd(fds[0]), sys::UniqueFd(fds[1])};
  if (::fcntl(pipes.read_end.get(), F_SETFL, O_NONBLOCK) != 0) return fail_errno("fcntl O_NONBLOCK");
  return pipes;
}

// The workspace source as the probe looks at it: a relative one is the caller's cwd's (the
// command line resolves it first; a policy given to `serve` may not).
std::string workspace_path(const std::string& source) {
  if (!source.empty() && source.front() == '/') return source;
  char buf[4096];
  std::string cwd = ::getcwd(buf, sizeof buf) ? buf : "/";
  return source == "." || source.empty() ? cwd : cwd + "/" + source;
}

// The jail's data and its cgroup: everything before the clone.
struct Built {
  // Held until the jail is gone: declared first, destroyed after the cgroup and the jail.
  std::optional<host::IdLease> lease;
  plan::Plan plan;
  std::optional<seccomp::Filter> filter;
  std::optional<workspace::Prepared> prepared;  // the workspace's idmapped tree or overlay scratch
  std::optional<cgroup::JailCgroup> cgroup;
};

Status build(const policy::Policy& policy, const std::vector<std::string>& command,
             const std::map<std::string, std::string>& env, const Options& options, report::Report& report,
             StageClock& clock, Built& built) {
  report.policy_sha256 = policy::sha256_hex(policy);
  report::record_limits(report, policy.limits);

  host::Host host = options.host ? *options.host : host::probe();
  host.landlock_abi_cap = options.landlock_max_abi;
  if (policy.workspace) host.workspace = host::probe_workspace(workspace_path(policy.workspace->source), host);
  if (options.cwd_args) host.caller_cwd = host::probe_cwd_args(command);
  clock.done("probe-host");
  if (auto range = plan::id_lease_range(policy, host, options.id_range)) {
    if (options.lease) {
      host.leased_id = options.lease->id();
    } else {
      // Run by root, ids the host's accounts use are skipped; the caller's own subordinate
      // ids are its to use.
      auto leased = host::lease_id(*range, host.is_root() ? host::read_ids_in_use() : host::IdsInUse{},
                                   host::lease_dir_for(host.euid));
      if (!leased) return std::unexpected(leased.error());
      built.lease.emplace(std::move(*leased));
      host.leased_id = built.lease->id();
      clock.done("lease-host-uid");
    }
  }
  auto plan = plan::build(policy, host, command, env);
  if (!plan) return std::unexpected(plan.error().context("plan"));
  built.plan = std::move(*plan);
  report.warnings = built.plan.warnings;
  report::record_workspace(report, built.plan, nullptr, false);
  for (const auto& warning : built.plan.warnings) spdlog::info("warning: {}", warning);
  clock.done("plan");

  auto filter = seccomp::filter_for(built.plan.seccomp);
  if (!filter) return std::unexpected(filter.error().context("seccomp"));
  built.filter.emplace(std::move(*filter));
  clock.done("seccomp-filter");

  // Before the cgroup and the jail: a keep_changes directory that cannot be used, or an
  // idmapped mount or overlay scratch that cannot be made, is a setup error with nothing run.
  auto prepared = workspace::prepare(built.plan);
  if (!prepared) return std::unexpected(prepared.error());
  built.prepared.emplace(std::move(*prepared));
  if (built.plan.workspace) clock.done("prepare-workspace");

  if (built.plan.cgroup.kind != plan::CgroupKind::none) {
    if (options.remove_stale_cgroups) cgroup::remove_stale(host);
    auto created = cgroup::JailCgroup::create(report.id, built.plan.limits, built.plan.cgroup, host);
    if (!created) return std::unexpected(created.error().context("cgroup"));
    built.cgroup.emplace(std::move(*created));
    clock.done("create-cgroup");
  }
  return {};
}

// The command's stdio as `options` asks: the caller's, /dev/null, capture pipes, or relays
// for what the jail's uid could not reopen.
struct Streams {
  jail::Stdio stdio;
  std::optional<CapturePipes> out_pipe, err_pipe;
  sys::UniqueFd null_stdin;
  std::vector<supervise::Relay> relays;
  std::vector<sys::UniqueFd> relay_jail_ends;  // until the jail has them
  TerminalHandback terminal;
};

Status open_streams(const plan::Plan& plan, const Options& options, Streams& streams) {
  streams.stdio = options.stdio;
  if (options.capture && streams.stdio.in < 0 && (::isatty(STDIN_FILENO) || stdin_reaches_stdout())) {
    // Capture mode has no terminal of its own to lend: a caller's terminal on stdin would let
    // the jail read keystrokes, write around the capture and change terminal settings that
    // outlive the run. Nor may stdin reach where the report goes (inetd/ssh style, one socket
    // for both): the jail could write a forged report before the real one. A pipe or file on
    // stdin is still passed through.
    streams.null_stdin = sys::UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!streams.null_stdin) return fail_errno("open /dev/null for the jail's stdin");
    streams.stdio.in = streams.null_stdin.get();
  }
  if (options.capture) {
    auto o = capture_pipe(plan), e = capture_pipe(plan);
    if (!o) return std::unexpected(o.error());
    if (!e) return std::unexpected(e.error());
    streams.out_pipe.emplace(std::move(*o));
    streams.err_pipe.emplace(std::move(*e));
    streams.stdio.out = streams.out_pipe->write_end.get();
    streams.stdio.err = streams.err_pipe->write_end.get();
  }
  if (auto ok = route_streams(plan, options.capture, streams.stdio, streams.relays, streams.relay_jail_ends); !ok)
    return ok;
  if (!plan.new_session && streams.stdio.in < 0 && ::isatty(STDIN_FILENO) &&
      ::tcgetpgrp(STDIN_FILENO) == ::getpgrp()) {
    streams.stdio.take_terminal = true;
    streams.terminal.arm();
  }
  return {};
}

// From a started command to the report: capture, supervise, usage (less `baseline`, what the
// cgroup had counted before the command), cgroup removal.
void supervise_and_record(const plan::Plan& plan, jail::Jail& jail, std::optional<cgroup::JailCgroup>& cgroup,
                          const workspace::Prepared* prepared, Streams& streams, const Options& options,
                          report::Report& report, double started_ms, StageClock& clock,
                          const std::optional<cgroup::Usage>& baseline, net::Broker* broker = nullptr) {
  streams.relay_jail_ends.clear();  // the jail holds them: their pipes end when its last writer goes
  std::optional<supervise::BoundedCapture> out, err;
  if (options.capture) {
    // Only the jail holds the write ends now: EOF means every jailed writer is gone.
    out.emplace(std::move(streams.out_pipe->read_end), plan.limits.output_bytes);
    err.emplace(std::move(streams.err_pipe->read_end), plan.limits.output_bytes);
    if (options.on_output) {
      out->on_kept([&](std::string_view bytes) { options.on_output(Stream::out, bytes); });
      err->on_kept([&](std::string_view bytes) { options.on_output(Stream::err, bytes); });
    }
    streams.out_pipe.reset();
    streams.err_pipe.reset();
  }

  supervise::Inputs inputs{plan, jail, cgroup ? &*cgroup : nullptr, options.signal_fd, &out, &err, started_ms,
                           &streams.relays, broker};
  supervise::Supervised supervised = supervise::run(inputs);
  clock.done("supervise");

  std::optional<cgroup::Usage> usage;
  if (cgroup) usage = cgroup->usage();
  if (usage && baseline) {
    // A pooled jail's init ran its setup in this cgroup before the command came.
    auto less = [](std::optional<double>& value, const std::optional<double>& before) {
      if (value && before) *value = std::max(0.0, *value - *before);
    };
    less(usage->user_ms, baseline->user_ms);
    less(usage->system_ms, baseline->system_ms);
  }
  report::record_run(report, plan, supervised, usage);
  if (out) report.stdout_capture = out->result();
  if (err) report.stderr_capture = err->result();
  clock.done("read-usage");
  if (plan.workspace && plan.workspace->overlay_index && prepared) {
    // The upper layer is read once nothing in the jail can write it any more: pid 1's end
    // takes every process of its pid namespace with it.
    if (jail.init.running()) {
      jail.init.kill(SIGKILL);
      (void)jail.init.wait();
    }
    const bool keep = prepared->keep() >= 0;
    workspace::Changes changes = workspace::collect(prepared->upper(), plan.workspace->source, prepared->keep());
    report::record_workspace(report, plan, &changes, keep);
    clock.done("workspace-changes");
  }
  if (cgroup && !jail.init.running()) {
    // pid 1 is reaped, so the jail is empty: remove its cgroup now, to time it. (Otherwise
    // the jail's owner, destroyed first, kills and reaps pid 1 before the cgroup goes.)
    cgroup.reset();
    clock.done("remove-cgroup");
  }
}

// network.mode = "allowlist": the broker, made before any jail exists (a config it refuses, or a
// resolver that cannot start, ends the run with nothing to clean up). In the caller's network
// namespace, where it connects out. Refusals are said on stderr in pass-through mode.
Result<std::unique_ptr<net::Broker>> start_broker(const net::Config& config, const Options& options,
                                                  double started_ms) {
  // A relayed connection holds 6 descriptors, and the broker sizes how many it keeps open at
  // once from the soft limit.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  net::Broker::Hooks hooks;
  if (!options.capture && log::level() != log::Level::quiet)
    hooks.on_first_denial = [](const net::Denial& denial) { log::error_line(net::describe(denial)); };
  if (options.verbose) hooks.on_log = [](const std::string& line) { spdlog::info("network: {}", line); };
  auto broker = net::Broker::create(config, started_ms, std::move(hooks));
  if (!broker) return std::unexpected(broker.error().context("network"));
  return broker;
}

Status stages(const policy::Policy& policy, const std::vector<std::string>& command,
              const std::map<std::string, std::string>& env, const Options& options, report::Report& report,
              double& started_ms) {
  StageClock clock;
  Built built;
  if (auto ok = build(policy, command, env, options, report, clock, built); !ok) return ok;
  Streams streams;
  if (auto ok = open_streams(built.plan, options, streams); !ok) return ok;

  // The report's t_ms of each connection and its wall_time_ms count from the same moment.
  started_ms = sys::monotonic_ms();
  std::unique_ptr<net::Broker> broker;
  if (built.plan.allowlist) {
    auto broker_started = start_broker(*built.plan.allowlist, options, started_ms);
    if (!broker_started) return std::unexpected(broker_started.error());
    broker = std::move(*broker_started);
    clock.done("network-broker");
  }
  auto spawned = jail::spawn(built.plan, *built.filter, built.cgroup ? &*built.cgroup : nullptr, streams.stdio,
                             options.verbose, built.prepared->mounts());
  if (!spawned) return std::unexpected(spawned.error().context("spawn"));
  clock.done("clone-jail");
  supervise_and_record(built.plan, *spawned, built.cgroup, &*built.prepared, streams, options, report, started_ms,
                       clock, std::nullopt, broker.get());
  return {};
}

}  // namespace

Result<sys::UniqueFd> take_over_signals() {
  ::signal(SIGPIPE, SIG_IGN);  // a closed stdout must not kill us before the report is written
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, sig);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return fail_errno("sigprocmask");
  sys::UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd) return fail_errno("signalfd");
  return fd;
}

void give_back_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

Status execute(const policy::Policy& policy, const std::vector<std::string>& command,
               const std::map<std::string, std::string>& env, const Options& options, report::Report& report) {
  double started_ms = sys::monotonic_ms();
  Status done = stages(policy, command, env, options, report, started_ms);
  report.wall_time_ms = sys::monotonic_ms() - started_ms;
  return done;
}

}  // namespace aj::pipeline

namespace aj::pipeline {

struct WarmJail::State {
  Built built;             // the jail's own plan: the init's copy is completed with the command
  std::optional<jail::Jail> jail;
  double built_ms = 0;     // how long building it took (for -v)
};

WarmJail::WarmJail() : state_(std::make_unique<State>()) {}
WarmJail::~WarmJail() {
  if (!state_) return;
  state_->jail.reset();    // pid 1 killed and reaped before its cgroup is removed
  state_->built.cgroup.reset();
}
int WarmJail::sync_fd() const { return state_->jail->sync.get(); }
int WarmJail::init_pidfd() const { return state_->jail->init.pidfd(); }

std::optional<std::string> cannot_pool(const policy::Policy& policy) {
  // A workspace is one run's (its overlay changes, its owner's files).
  if (policy.workspace) return "a policy with a [workspace] cannot be pooled";
  // The broker that decides an allowlist jail's connections lives beside one run's supervisor,
  // and the jail's listeners are handed to it as the jail is built.
  if (policy.network.mode == policy::NetworkMode::allowlist)
    return "a policy with network.mode = \"allowlist\" cannot be pooled (its runs are cold)";
  return std::nullopt;
}

Result<std::unique_ptr<WarmJail>> prepare(const policy::Policy& policy, const Options& options,
                                          const std::string& name) {
  if (auto why = cannot_pool(policy)) return fail(EINVAL, *why);
  StageClock clock;
  std::unique_ptr<WarmJail> warm(new WarmJail());
  report::Report scratch_report;  // what build() records is recorded again for the real run
  scratch_report.id = name;
  // The plan of a command that is not there yet: its argv, environment and limits are replaced
  // when it comes; everything else (mounts, namespaces, cgroup, filter) is the policy's.
  if (auto ok = build(policy, {"true"}, {}, options, scratch_report, clock, warm->state_->built); !ok) return std::unexpected(ok.error());
  auto& built = warm->state_->built;
  auto spawned = jail::spawn_waiting(built.plan, *built.filter, built.cgroup ? &*built.cgroup : nullptr,
                                     options.verbose, built.prepared->mounts());
  if (!spawned) return std::unexpected(spawned.error().context("spawn"));
  warm->state_->jail.emplace(std::move(*spawned));
  if (auto ok = jail::await_waiting(*warm->state_->jail); !ok) return std::unexpected(ok.error().context("pooled jail"));
  clock.done("build-pooled-jail");
  return warm;
}

std::optional<std::string> cannot_serve(const WarmJail& warm, const plan::Plan& plan) {
  const plan::Plan& jail = warm.state_->built.plan;
  // What was applied when the jail was built must be what this command's plan says.
  if (jail.clone_flags != plan.clone_flags || jail.mounts.size() != plan.mounts.size())
    return "its namespaces or mounts differ";
  if (jail.uid_map.outside != plan.uid_map.outside || jail.gid_map.outside != plan.gid_map.outside)
    return "its host ids differ";
  if (jail.limits.memory_bytes != plan.limits.memory_bytes || jail.limits.pids != plan.limits.pids ||
      jail.limits.cpus != plan.limits.cpus)
    return "its cgroup limits (memory, pids, cpus) differ";
  if (jail.seccomp.allow != plan.seccomp.allow || jail.seccomp.deny != plan.seccomp.deny ||
      jail.seccomp.default_action != plan.seccomp.default_action)
    return "its seccomp filter differs";
  return std::nullopt;
}

Status run_in(WarmJail& warm, const policy::Policy& policy, const std::vector<std::string>& command,
              const std::map<std::string, std::string>& env, const Options& options, report::Report& report) {
  double started_ms = sys::monotonic_ms();
  Status done = [&]() -> Status {
    StageClock clock;
    auto& state = *warm.state_;
    report.policy_sha256 = policy::sha256_hex(policy);
    report::record_limits(report, policy.limits);
    host::Host host = options.host ? *options.host : host::probe();
    host.landlock_abi_cap = options.landlock_max_abi;
    // The command runs as the ids the jail was built with.
    if (state.built.lease) host.leased_id = state.built.lease->id();
    else if (options.lease) host.leased_id = options.lease->id();
    auto plan = plan::build(policy, host, command, env);
    if (!plan) return std::unexpected(plan.error().context("plan"));
    if (auto why = cannot_serve(warm, *plan)) return fail(EINVAL, "this pooled jail cannot run the command: " + *why);
    report.warnings = plan->warnings;
    clock.done("plan");
    Streams streams;
    if (auto ok = open_streams(*plan, options, streams); !ok) return ok;
    std::optional<cgroup::Usage> baseline;
    if (state.built.cgroup) baseline = state.built.cgroup->usage();
    // The wall clock of the run starts as the command is handed over, not when the jail was built.
    started_ms = sys::monotonic_ms();
    if (auto ok = jail::hand_over(*state.jail, *plan, streams.stdio); !ok)
      return std::unexpected(ok.error().context("pooled jail"));
    clock.done("hand-over");
    supervise_and_record(*plan, *state.jail, state.built.cgroup, &*state.built.prepared, streams, options, report,
                         started_ms, clock, baseline);
    return {};
  }();
  report.wall_time_ms = sys::monotonic_ms() - started_ms;
  return done;
}

}  // namespace aj::pipeline
