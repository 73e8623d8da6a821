// `agentjail run`: load the policy and apply the command line to it, run the pipeline
// (pipeline/pipeline.h: probe, plan, filter, cgroup, spawn, supervise), print the report.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <memory>

#include "base/log.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "cli/limit_options.h"
#include "pipeline/pipeline.h"
#include "limits/table.h"
#include "policy/emit.h"
#include "policy/limit_value.h"
#include "policy/load.h"
#include "policy/overrides.h"
#include "report/audit.h"
#include "report/emit.h"
#include "report/exit_codes.h"
#include "report/report.h"
#include "sys/process.h"

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
  int landlock_max_abi = -1;  // -1: whatever the kernel has
  std::string uid_range;      // --uid-range FIRST-LAST
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
    const double started_ms = sys::monotonic_ms();
    if (auto ok = stages(); !ok) {
      report_.status = report::RunStatus::setup_error;
      report_.error = ok.error().what();
      log::error_line(*report_.error);
      if (report_.wall_time_ms == 0) report_.wall_time_ms = sys::monotonic_ms() - started_ms;
    }
    return finish();
  }

 private:
  Status stages() {
    if (command_.empty()) return fail(0, "no command given: agentjail run [OPTIONS] -- CMD [ARG...]");
    // First, so that no signal can end us between creating a cgroup and owning the jail.
    auto signals = pipeline::take_over_signals();
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

    const double load_started = sys::monotonic_ms();
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
    if (loaded->policy.audit_log) policy_audit_log_ = *loaded->policy.audit_log;
    if (const std::string& log = audit_log_path(); !log.empty()) {
      auto opened = report::open_audit_log(log);
      if (!opened) {
        audit_unwritable_ = true;
        return std::unexpected(opened.error());
      }
      audit_fd_ = std::move(*opened);
    }
    spdlog::info("stage load-policy: {:.3f} ms", sys::monotonic_ms() - load_started);

    pipeline::Options options;
    options.capture = options_.json;
    options.verbose = options_.verbose > 0;
    options.signal_fd = signals->get();
    options.landlock_max_abi = options_.landlock_max_abi;
    options.cwd_args = true;
    auto range = host::configured_id_range(options_.uid_range);
    if (!range) return std::unexpected(range.error());
    options.id_range = *range;
    if (auto ran = pipeline::execute(loaded->policy, command_, caller_environment(), options, report_); !ran)
      return ran;
    // One line for what kept the command from running: a setup error in any mode, and in
    // pass-through mode also a command that was not found (127) or not executable (126),
    // as a shell says it. In --json mode the report's `error` says it.
    if (report_.error && (report_.status == report::RunStatus::setup_error || !options_.json))
      log::error_line(*report_.error);
    if (!options_.json && !options_.quiet) say_which_limit(loaded->policy.limits);
    if (!options_.json && !options_.quiet && report_.unseen_cwd_args) log::error_line(*report_.unseen_cwd_args);
    return {};
  }

  // Pass-through mode: the command's own output is all the caller sees, so a run a limit
  // ended says which limit, with its value and the option that raises it (not with -q; in
  // --json mode the report's status says it).
  void say_which_limit(const Limits& limits) const {
    const char* key = nullptr;
    const char* what = "";
    switch (report_.status) {
      case report::RunStatus::timeout: key = "wall_time", what = "wall time limit reached, the command was ended"; break;
      case report::RunStatus::cpu_limit: key = "cpu_time", what = "CPU time limit reached, the command was ended"; break;
      case report::RunStatus::memory_limit: key = "memory", what = "memory limit reached, the command was ended"; break;
      case report::RunStatus::pids_limit: key = "pids", what = "pids limit reached, a new process was refused"; break;
      default: return;
    }
    const limits::Row* row = limits::find(key);
    if (!row) return;
    std::string line = fmt::format("{}: limits.{} = {}", what, key, policy::limit_text(*row, limits::get(limits, *row)));
    if (!row->option.empty()) line += fmt::format(" (raise it with {})", row->option);
    log::error_line(line);
  }

  int finish() {
    // --json promises the six capture fields in every report, also when the jail failed
    // before the command could write anything (schemas/report.schema.json).
    if (options_.json && !report_.stdout_capture) report_.stdout_capture = supervise::Capture{};
    if (options_.json && !report_.stderr_capture) report_.stderr_capture = supervise::Capture{};
    int code = report::exit_code(report_);
    // The audit line first: it is a file of the caller's, and a reader that stalls stdout must
    // not keep it from being written.
    const std::string& audit_log = audit_log_path();
    if (audit_fd_) {
      if (!report::append_audit_line(audit_fd_.get(), audit_log, report_, ::getuid())) code = report::kExitSetupError;
    } else if (audit_unwritable_) {
      code = report::kExitSetupError;
    } else if (!audit_log.empty() && !report::append_audit_line(audit_log, report_, ::getuid())) {
      code = report::kExitSetupError;
    }
    // Nothing of the jail is left: a signal now may end agentjail while the report waits on a
    // stalled stdout (the --report file is written before stdout).
    pipeline::give_back_signals();
    bool emitted = report_fd_ ? report::emit(report_, options_.json, report_fd_.get(), options_.report_path)
                   : report_unwritable_ ? report::emit(report_, options_.json, -1, "") && false
                                        : report::emit(report_, options_.json, options_.report_path);
    if (!emitted) code = report::kExitSetupError;
    return code;
  }

  const std::string& audit_log_path() const {
    return options_.audit_log.empty() ? policy_audit_log_ : options_.audit_log;
  }

  RunOptions& options_;
  std::vector<std::string> command_;
  report::Report report_;
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
  cmd->add_option("-w,--workspace", o.workspace,
                  "The caller's directory SRC in the jail at DST (/work), MODE ro, rw or overlay (ro); the command "
                  "starts there: -w . , -w .:rw, -w .:/src:overlay")
      ->type_name("SRC[:DST][:MODE]");
  cmd->add_option("--changes", o.changes,
                  "Overlay workspace: copy the files the command added or changed into this new or empty directory "
                  "(workspace.keep_changes)")
      ->type_name("DIR");
  cmd->add_option("--tmpfs", o.tmpfs, "Add a tmpfs DST[:SIZE]")->type_name("DST[:SIZE]");
  cmd->add_option("--cwd", o.cwd, "Working directory inside the jail (process.cwd)")->type_name("DIR");
  cmd->add_option("--env", o.env, "Set a variable in the jail (process.env); repeatable")->type_name("NAME=VALUE");
  cmd->add_option("--net", o.net, "network.mode: none, loopback, host or allowlist")->type_name("MODE");
  cmd->add_option("--allow", o.allow, "With --net allowlist: allow HOST[:PORT] (a name, *.suffix or CIDR); repeatable")
      ->type_name("HOST[:PORT]");
  add_limit_options(*cmd, o.limits);  // --time, --cpu-time, --memory, --pids: limits/table.h
  cmd->add_option("--landlock-max-abi", options->landlock_max_abi,
                  "For testing: use at most this Landlock ABI of the kernel's (0: none), as an older kernel would")
      ->type_name("N")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--uid-range", options->uid_range,
                  "Run by root: lease each jail's host uid and gid from FIRST-LAST (default 1879048192-1879113727, "
                  "or AGENTJAIL_UID_RANGE)")
      ->type_name("FIRST-LAST");
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
