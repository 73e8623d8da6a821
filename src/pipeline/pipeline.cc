#include "pipeline/pipeline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <optional>
#include <vector>

#include "base/log.h"
#include "cgroup/cgroup.h"
#include "host/host.h"
#include "jail/spawn.h"
#include "plan/build.h"
#include "plan/identity.h"
#include "plan/stdio.h"
#include "policy/emit.h"
#include "report/record.h"
#include "seccomp/precompiled.h"
#include "supervise/supervisor.h"

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

Status stages(const policy::Policy& policy, const std::vector<std::string>& command,
              const std::map<std::string, std::string>& env, const Options& options, report::Report& report,
              double& started_ms) {
  StageClock clock;
  report.policy_sha256 = policy::sha256_hex(policy);
  report::record_limits(report, policy.limits);

  host::Host host = host::probe();
  host.landlock_abi_cap = options.landlock_max_abi;
  clock.done("probe-host");
  // Held until the jail is gone: declared before the cgroup and the jail, destroyed after them.
  std::optional<host::IdLease> lease;
  if (auto range = plan::id_lease_range(policy, host, options.id_range)) {
    if (options.lease) {
      host.leased_id = options.lease->id();
    } else {
      // Run by root, ids the host's accounts use are skipped; the caller's own subordinate
      // ids are its to use.
      auto leased = host::lease_id(*range, host.is_root() ? host::read_ids_in_use() : host::IdsInUse{},
                                   host::lease_dir_for(host.euid));
      if (!leased) return std::unexpected(leased.error());
      lease.emplace(std::move(*leased));
      host.leased_id = lease->id();
      clock.done("lease-host-uid");
    }
  }
  auto plan = plan::build(policy, host, command, env);
  if (!plan) return std::unexpected(plan.error().context("plan"));
  report.warnings = plan->warnings;
  for (const auto& warning : plan->warnings) spdlog::info("warning: {}", warning);
  clock.done("plan");

  auto filter = seccomp::filter_for(plan->seccomp);
  if (!filter) return std::unexpected(filter.error().context("seccomp"));
  clock.done("seccomp-filter");

  std::optional<cgroup::JailCgroup> cgroup;
  if (plan->cgroup.kind != plan::CgroupKind::none) {
    cgroup::remove_stale(host);
    auto created = cgroup::JailCgroup::create(report.id, plan->limits, plan->cgroup, host);
    if (!created) return std::unexpected(created.error().context("cgroup"));
    cgroup.emplace(std::move(*created));
    clock.done("create-cgroup");
  }

  jail::Stdio stdio = options.stdio;
  std::optional<supervise::BoundedCapture> out, err;
  std::optional<CapturePipes> out_pipe, err_pipe;
  sys::UniqueFd null_stdin;
  if (options.capture && stdio.in < 0 && (::isatty(STDIN_FILENO) || stdin_reaches_stdout())) {
    // Capture mode has no terminal of its own to lend: a caller's terminal on stdin would let
    // the jail read keystrokes, write around the capture and change terminal settings that
    // outlive the run. Nor may stdin reach where the report goes (inetd/ssh style, one socket
    // for both): the jail could write a forged report before the real one. A pipe or file on
    // stdin is still passed through.
    null_stdin = sys::UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_stdin) return fail_errno("open /dev/null for the jail's stdin");
    stdio.in = null_stdin.get();
  }
  if (options.capture) {
    auto o = capture_pipe(*plan), e = capture_pipe(*plan);
    if (!o) return std::unexpected(o.error());
    if (!e) return std::unexpected(e.error());
    out_pipe.emplace(std::move(*o));
    err_pipe.emplace(std::move(*e));
    stdio.out = out_pipe->write_end.get();
    stdio.err = err_pipe->write_end.get();
  }
  std::vector<supervise::Relay> relays;
  std::vector<sys::UniqueFd> relay_jail_ends;
  if (auto ok = route_streams(*plan, options.capture, stdio, relays, relay_jail_ends); !ok) return ok;
  TerminalHandback terminal;
  if (!plan->new_session && stdio.in < 0 && ::isatty(STDIN_FILENO) && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp()) {
    stdio.take_terminal = true;
    terminal.arm();
  }

  started_ms = sys::monotonic_ms();
  auto spawned = jail::spawn(*plan, *filter, cgroup ? &*cgroup : nullptr, stdio, options.verbose);
  if (!spawned) return std::unexpected(spawned.error().context("spawn"));
  clock.done("clone-jail");
  relay_jail_ends.clear();  // the jail holds them: their pipes end when the jail's last writer goes
  if (options.capture) {
    // Only the jail holds the write ends now: EOF means every jailed writer is gone.
    out.emplace(std::move(out_pipe->read_end), plan->limits.output_bytes);
    err.emplace(std::move(err_pipe->read_end), plan->limits.output_bytes);
    if (options.on_output) {
      out->on_kept([&](std::string_view bytes) { options.on_output(Stream::out, bytes); });
      err->on_kept([&](std::string_view bytes) { options.on_output(Stream::err, bytes); });
    }
    out_pipe.reset();
    err_pipe.reset();
  }

  supervise::Inputs inputs{*plan, *spawned, cgroup ? &*cgroup : nullptr, options.signal_fd, &out, &err, started_ms,
                           &relays};
  supervise::Supervised supervised = supervise::run(inputs);
  clock.done("supervise");

  std::optional<cgroup::Usage> usage;
  if (cgroup) usage = cgroup->usage();
  report::record_run(report, *plan, supervised, usage);
  if (out) report.stdout_capture = out->result();
  if (err) report.stderr_capture = err->result();
  clock.done("read-usage");
  if (cgroup && !spawned->init.running()) {
    // pid 1 is reaped, so the jail is empty: remove its cgroup now, to time it. (Otherwise
    // the jail's owner, destroyed first, kills and reaps pid 1 before the cgroup goes.)
    cgroup.reset();
    clock.done("remove-cgroup");
  }
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

Status execute(const policy::Policy& policy, const std::vector<std::string>& command,
               const std::map<std::string, std::string>& env, const Options& options, report::Report& report) {
  double started_ms = sys::monotonic_ms();
  Status done = stages(policy, command, env, options, report, started_ms);
  report.wall_time_ms = sys::monotonic_ms() - started_ms;
  return done;
}

}  // namespace aj::pipeline
