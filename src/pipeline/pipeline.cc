#include "pipeline/pipeline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <optional>

#include "base/log.h"
#include "cgroup/cgroup.h"
#include "host/host.h"
#include "jail/spawn.h"
#include "plan/build.h"
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

Result<CapturePipes> capture_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe");
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

Status stages(const policy::Policy& policy, const std::vector<std::string>& command,
              const std::map<std::string, std::string>& env, const Options& options, report::Report& report,
              double& started_ms) {
  StageClock clock;
  report.policy_sha256 = policy::sha256_hex(policy);
  report::record_limits(report, policy.limits);

  host::Host host = host::probe();
  host.landlock_abi_cap = options.landlock_max_abi;
  if (policy.workspace) host.workspace = host::probe_workspace(workspace_path(policy.workspace->source), host);
  clock.done("probe-host");
  auto plan = plan::build(policy, host, command, env);
  if (!plan) return std::unexpected(plan.error().context("plan"));
  report.warnings = plan->warnings;
  report::record_workspace(report, *plan, nullptr, false);
  for (const auto& warning : plan->warnings) spdlog::info("warning: {}", warning);
  clock.done("plan");

  auto filter = seccomp::filter_for(plan->seccomp);
  if (!filter) return std::unexpected(filter.error().context("seccomp"));
  clock.done("seccomp-filter");

  // Before the cgroup and the jail: a keep_changes directory that cannot be used, or an
  // idmapped mount or overlay scratch that cannot be made, is a setup error with nothing run.
  auto prepared = workspace::prepare(*plan);
  if (!prepared) return std::unexpected(prepared.error());
  if (plan->workspace) clock.done("prepare-workspace");

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
    auto o = capture_pipe(), e = capture_pipe();
    if (!o) return std::unexpected(o.error());
    if (!e) return std::unexpected(e.error());
    out_pipe.emplace(std::move(*o));
    err_pipe.emplace(std::move(*e));
    stdio.out = out_pipe->write_end.get();
    stdio.err = err_pipe->write_end.get();
  }

  started_ms = sys::monotonic_ms();
  auto spawned = jail::spawn(*plan, *filter, cgroup ? &*cgroup : nullptr, stdio, options.verbose, prepared->mounts());
  if (!spawned) return std::unexpected(spawned.error().context("spawn"));
  clock.done("clone-jail");
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

  supervise::Inputs inputs{*plan, *spawned, cgroup ? &*cgroup : nullptr, options.signal_fd, &out, &err, started_ms};
  supervise::Supervised supervised = supervise::run(inputs);
  clock.done("supervise");

  std::optional<cgroup::Usage> usage;
  if (cgroup) usage = cgroup->usage();
  report::record_run(report, *plan, supervised, usage);
  if (out) report.stdout_capture = out->result();
  if (err) report.stderr_capture = err->result();
  clock.done("read-usage");
  if (plan->workspace && plan->workspace->overlay_index) {
    // The upper layer is read once nothing in the jail can write it any more: pid 1's end
    // takes every process of its pid namespace with it.
    if (spawned->init.running()) {
      spawned->init.kill(SIGKILL);
      (void)spawned->init.wait();
    }
    const bool keep = prepared->keep() >= 0;
    workspace::Changes changes = workspace::collect(prepared->upper(), plan->workspace->source, prepared->keep());
    report::record_workspace(report, *plan, &changes, keep);
    clock.done("workspace-changes");
  }
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
