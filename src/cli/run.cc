// `agentjail run`: the pipeline, one call per stage — load the policy, probe the host, plan,
// compile the filter, create the cgroup, spawn, supervise, report (docs/architecture.md).
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "base/log.h"
#include "base/strings.h"
#include "cgroup/cgroup.h"
#include "cli/commands.h"
#include "host/host.h"
#include "jail/spawn.h"
#include "plan/build.h"
#include "policy/emit.h"
#include "policy/load.h"
#include "policy/overrides.h"
#include "report/audit.h"
#include "report/emit.h"
#include "report/exit_codes.h"
#include "report/record.h"
#include "report/report.h"
#include "seccomp/precompiled.h"
#include "supervise/supervisor.h"

extern char** environ;

namespace aj::cli {
namespace {

struct RunOptions {
  std::string policy = "default";
  std::string report_path;
  std::string audit_log;
  bool json = false;
  int verbose = 0;
  bool quiet = false;
  policy::Overrides overrides;
};

std::map<std::string, std::string> caller_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view var(*entry);
    size_t eq = var.find('=');
    if (eq != std::string_view::npos) env.emplace(var.substr(0, eq), var.substr(eq + 1));
  }
  return env;
}

std::string caller_cwd() {
  char buf[4096];
  return ::getcwd(buf, sizeof buf) ? buf : "/";
}

// Signals that end agentjail tear the jail down instead, and still produce the report.
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

// Whether the caller's stdin could carry the jail's writes to where our stdout goes: a socket
// (its other end reads what we print) or the very file stdout is.
bool stdin_reaches_stdout() {
  struct stat in {}, out {};
  if (::fstat(STDIN_FILENO, &in) != 0) return false;
  if (S_ISSOCK(in.st_mode)) return true;
  return ::fstat(STDOUT_FILENO, &out) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino;
}

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

Result<CapturePipes> capture_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe");
  CapturePipes pipes{sys::UniqueFd(fds[0]), sys::UniqueFd(fds[1])};
  if (::fcntl(pipes.read_end.get(), F_SETFL, O_NONBLOCK) != 0) return fail_errno("fcntl O_NONBLOCK");
  return pipes;
}

class Run {
 public:
  Run(RunOptions& options, std::vector<std::string> command) : options_(options), command_(std::move(command)) {
    report_.id = report::new_run_id();
    report_.started_at = report::utc_timestamp_now();
    report_.command = command_;
    report_.policy_name = options.policy;
  }

  // The command line could not be used: nothing was started, the report says why.
  int reject(const std::string& message) {
    report_.status = report::RunStatus::setup_error;
    report_.error = message;
    log::error_line(message);
    return finish();
  }

  int execute() {
    started_ms_ = sys::monotonic_ms();
    if (auto ok = stages(); !ok) {
      report_.status = report::RunStatus::setup_error;
      report_.error = ok.error().what();
      log::error_line(*report_.error);
    }
    report_.wall_time_ms = sys::monotonic_ms() - started_ms_;
    return finish();
  }

 private:
  Status stages() {
    if (command_.empty()) return fail(0, "no command given: agentjail run [OPTIONS] -- CMD [ARG...]");
    // First, so that no signal can end us between creating a cgroup and owning the jail.
    auto signals = take_over_signals();
    if (!signals) return std::unexpected(signals.error());
    // The files agentjail writes are opened now, before any jail can touch their paths, and
    // without following a symlink: a missing directory is a setup error before the command runs.
    if (!options_.report_path.empty()) {
      auto opened = report::open_report_file(options_.report_path);
      if (!opened) {
        report_unwritable_ = true;
        return std::unexpected(opened.error());
      }
      report_fd_ = std::move(*opened);
    }

    StageClock clock;
    policy::Diagnostics diagnostics;
    auto loaded = policy::load(options_.policy, diagnostics);
    if (loaded) {
      report_.policy_name = loaded->policy.name;
      report_.policy_source = loaded->source;
      policy::apply_overrides(loaded->policy, options_.overrides, caller_cwd(), diagnostics);
    }
    if (!diagnostics.empty()) {
      // Every problem, one per line: on stderr and in the report's `error`.
      std::vector<std::string> lines;
      for (const auto& diagnostic : diagnostics) lines.push_back(diagnostic.format());
      return fail(0, join(lines, "\n"));
    }
    const policy::Policy& policy = loaded->policy;
    report_.policy_sha256 = policy::sha256_hex(policy);
    report::record_limits(report_, policy.limits);
    if (policy.audit_log) policy_audit_log_ = *policy.audit_log;
    if (const std::string& log = audit_log_path(); !log.empty()) {
      auto opened = report::open_audit_log(log);
      if (!opened) {
        audit_unwritable_ = true;
        return std::unexpected(opened.error());
      }
      audit_fd_ = std::move(*opened);
    }
    clock.done("load-policy");

    const host::Host host = host::probe();
    clock.done("probe-host");
    auto plan = plan::build(policy, host, command_, caller_environment());
    if (!plan) return std::unexpected(plan.error().context("plan"));
    report_.warnings = plan->warnings;
    for (const auto& warning : plan->warnings) spdlog::info("warning: {}", warning);
    clock.done("plan");

    auto filter = seccomp::filter_for(plan->seccomp);
    if (!filter) return std::unexpected(filter.error().context("seccomp"));
    clock.done("seccomp-filter");

    std::optional<cgroup::JailCgroup> cgroup;
    if (plan->cgroup.kind != plan::CgroupKind::none) {
      cgroup::remove_stale(host);
      auto created = cgroup::JailCgroup::create(report_.id, plan->limits, plan->cgroup, host);
      if (!created) return std::unexpected(created.error().context("cgroup"));
      cgroup.emplace(std::move(*created));
      clock.done("create-cgroup");
    }

    jail::Stdio stdio;
    std::optional<supervise::BoundedCapture> out, err;
    std::optional<CapturePipes> out_pipe, err_pipe;
    sys::UniqueFd null_stdin;
    if (options_.json && (::isatty(STDIN_FILENO) || stdin_reaches_stdout())) {
      // Capture mode has no terminal of its own to lend: a caller's terminal on stdin would let
      // the jail read keystrokes, write around the capture and change terminal settings that
      // outlive the run. So does a socket on stdin (inetd or ssh style, where stdin and stdout
      // are one socket) or any stdin that is stdout's file: the jail could write around the
      // capture and forge a report before the real one. A pipe or file on stdin of its own is
      // still passed through.
      null_stdin = sys::UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (!null_stdin) return fail_errno("open /dev/null for the jail's stdin");
      stdio.in = null_stdin.get();
    }
    if (options_.json) {
      auto o = capture_pipe(), e = capture_pipe();
      if (!o) return std::unexpected(o.error());
      if (!e) return std::unexpected(e.error());
      out_pipe.emplace(std::move(*o));
      err_pipe.emplace(std::move(*e));
      stdio.out = out_pipe->write_end.get();
      stdio.err = err_pipe->write_end.get();
    }

    started_ms_ = sys::monotonic_ms();
    auto spawned = jail::spawn(*plan, *filter, cgroup ? &*cgroup : nullptr, stdio, options_.verbose > 0);
    if (!spawned) return std::unexpected(spawned.error().context("spawn"));
    clock.done("clone-jail");
    if (options_.json) {
      // Only the jail holds the write ends now: EOF means every jailed writer is gone.
      out.emplace(std::move(out_pipe->read_end), plan->limits.output_bytes);
      err.emplace(std::move(err_pipe->read_end), plan->limits.output_bytes);
      out_pipe.reset();
      err_pipe.reset();
    }

    supervise::Inputs inputs{*plan, *spawned, cgroup ? &*cgroup : nullptr, signals->get(), &out, &err, started_ms_};
    supervise::Supervised supervised = supervise::run(inputs);
    clock.done("supervise");

    std::optional<cgroup::Usage> usage;
    if (cgroup) usage = cgroup->usage();
    report::record_run(report_, *plan, supervised, usage);
    if (out) report_.stdout_capture = out->result();
    if (err) report_.stderr_capture = err->result();
    clock.done("read-usage");
    if (cgroup && !spawned->init.running()) {
      // pid 1 is reaped, so the jail is empty: remove its cgroup now, to time it. (Otherwise
      // the jail's owner, destroyed first, kills and reaps pid 1 before the cgroup goes.)
      cgroup.reset();
      clock.done("remove-cgroup");
    }
    // One line for what kept the command from running: a setup error in any mode, and in
    // pass-through mode also a command that was not found (127) or not executable (126),
    // as a shell says it. In --json mode the report's `error` says it.
    if (report_.error && (report_.status == report::RunStatus::setup_error || !options_.json))
      log::error_line(*report_.error);
    return {};
  }

  int finish() {
    // --json promises the six capture fields in every report, also when the jail failed
    // before the command could write anything (schemas/report.schema.json).
    if (options_.json && !report_.stdout_capture) report_.stdout_capture = supervise::Capture{};
    if (options_.json && !report_.stderr_capture) report_.stderr_capture = supervise::Capture{};
    int code = report::exit_code(report_);
    bool emitted = report_fd_ ? report::emit(report_, options_.json, report_fd_.get(), options_.report_path)
                   : report_unwritable_ ? report::emit(report_, options_.json, -1, "") && false
                                        : report::emit(report_, options_.json, options_.report_path);
    if (!emitted) code = report::kExitSetupError;
    const std::string& audit_log = audit_log_path();
    if (audit_fd_) {
      if (!report::append_audit_line(audit_fd_.get(), audit_log, report_, ::getuid())) code = report::kExitSetupError;
    } else if (audit_unwritable_) {
      code = report::kExitSetupError;
    } else if (!audit_log.empty() && !report::append_audit_line(audit_log, report_, ::getuid())) {
      code = report::kExitSetupError;
    }
    return code;
  }

  const std::string& audit_log_path() const {
    return options_.audit_log.empty() ? policy_audit_log_ : options_.audit_log;
  }

  RunOptions& options_;
  std::vector<std::string> command_;
  report::Report report_;
  double started_ms_ = 0;
  std::string policy_audit_log_;
  // Opened before the jail starts (see stages()); *_unwritable_: the open failed and said so.
  sys::UniqueFd report_fd_, audit_fd_;
  bool report_unwritable_ = false, audit_unwritable_ = false;
};

}  // namespace

Runner add_run(CLI::App& root, std::vector<std::string>& command) {
  auto options = std::make_shared<RunOptions>();
  auto* cmd = root.add_subcommand("run", "Run a command in a jail: agentjail run [OPTIONS] -- CMD [ARG...]");
  cmd->add_option("-p,--policy", options->policy, "Policy file (.toml) or built-in name")->capture_default_str();
  cmd->add_flag("--json", options->json,
                "Capture the command's stdout and stderr and print one JSON report on stdout");
  cmd->add_option("--report", options->report_path, "Also write the report JSON to this file");
  cmd->add_option("--audit-log", options->audit_log, "Append one JSON line for this run to this file (audit_log)")
      ->type_name("PATH");
  auto& o = options->overrides;
  cmd->add_option("--ro", o.ro, "Add a read-only bind mount SRC[:DST]")->type_name("SRC[:DST]");
  cmd->add_option("--rw", o.rw, "Add a read-write bind mount SRC[:DST]")->type_name("SRC[:DST]");
  cmd->add_option("--tmpfs", o.tmpfs, "Add a tmpfs DST[:SIZE]")->type_name("DST[:SIZE]");
  cmd->add_option("--cwd", o.cwd, "Working directory inside the jail (process.cwd)")->type_name("DIR");
  cmd->add_option("--env", o.env, "Set a variable in the jail (process.env); repeatable")->type_name("NAME=VALUE");
  cmd->add_option("--net", o.net, "network.mode: none, loopback or host")->type_name("MODE");
  cmd->add_option("--time", o.wall_time, "limits.wall_time, e.g. 30s or unlimited")->type_name("DURATION");
  cmd->add_option("--cpu-time", o.cpu_time, "limits.cpu_time, e.g. 10s or unlimited")->type_name("DURATION");
  cmd->add_option("--memory", o.memory, "limits.memory, e.g. 256MiB or unlimited")->type_name("SIZE");
  cmd->add_option("--pids", o.pids, "limits.pids, e.g. 64 or unlimited")->type_name("N");
  cmd->add_flag("-v,--verbose", options->verbose, "Log each stage of the run and each setup step, with its time, on stderr (-vv: more)");
  cmd->add_flag("-q,--quiet", options->quiet, "Print only errors of agentjail's own");
  cmd->allow_extras();  // reported below with a hint, instead of CLI11's generic message
  cmd->footer("Everything after -- is the command, run inside the jail. Exit codes: the command's own (0-123), "
              "124 time limit, 125 agentjail failed, 126 not executable, 127 not found, 128+N killed by signal N.");
  return [options, &command, cmd] {
    if (!cmd->remaining().empty()) {
      const std::string word = cmd->remaining().front();  // remaining() returns a copy
      if (word.starts_with('-'))
        return reject_run("run: unknown option " + aj::quoted(word) + " (see agentjail run --help)", options->json,
                          command);
      return reject_run("run: unexpected argument " + aj::quoted(word) +
                            ": put the command after --, as in: agentjail run [OPTIONS] -- CMD [ARG...]",
                        options->json, command);
    }
    log::init(options->quiet         ? log::Level::quiet
              : options->verbose > 1 ? log::Level::debug
              : options->verbose     ? log::Level::verbose
                                     : log::Level::normal);
    return Run(*options, command).execute();
  };
}

int reject_run(const std::string& message, bool json, std::vector<std::string> command) {
  RunOptions options;
  options.policy = "";  // not known: the options did not parse
  options.json = json;
  return Run(options, std::move(command)).reject(message);
}

}  // namespace aj::cli
