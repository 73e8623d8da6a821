#include "report/record.h"

#include <fmt/format.h>

#include <string>
#include <utility>

namespace aj::report {
namespace {

double ms(const timeval& tv) { return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3; }

}  // namespace

void record_limits(Report& report, const Limits& limits) {
  report.limit_wall_time_ms = limits.wall_time_ms;
  report.limit_cpu_time_ms = limits.cpu_time_ms;
  report.limit_memory_bytes = limits.memory_bytes;
  report.limit_pids = limits.pids;
}

void record_run(Report& report, const plan::Plan& plan, supervise::Supervised& s,
                const std::optional<cgroup::Usage>& usage) {
  record_limits(report, plan.limits);
  supervise::Observed& observed = s.observed;
  if (usage) {
    observed.oom_killed = usage->oom_killed;
    observed.pids_max_hit = usage->pids_max_hit;
  }
  // The cgroup counts every process of the jail; without one, pid 1's rusage covers all it reaped.
  const auto& ru = s.init_wait.usage;
  report.cpu_user_ms = usage && usage->user_ms ? usage->user_ms : ms(ru.ru_utime);
  report.cpu_system_ms = usage && usage->system_ms ? usage->system_ms : ms(ru.ru_stime);
  observed.cpu_used_ms = *report.cpu_user_ms + *report.cpu_system_ms;
  observed.cpu_limit_ms = plan.limits.cpu_time_ms;
  observed.seccomp_action = plan.seccomp.default_action;
  observed.seccomp_notify = plan.seccomp.notify;
  if (usage && usage->memory_peak_bytes) {
    report.memory_peak_bytes = usage->memory_peak_bytes;
    report.memory_source = std::string("cgroup-") + plan::to_string(plan.cgroup.kind);
  } else {
    report.memory_peak_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
    report.memory_source = "rusage";
  }
  if (usage) report.pids_peak = usage->pids_peak;

  const supervise::Outcome outcome = supervise::classify(observed);
  report.status = outcome.status;
  report.exit_code = outcome.exit_code;
  report.signal = outcome.signal;
  report.error = outcome.error;
  report.violations = std::move(s.violations);
  report.violations_dropped = s.violations_dropped;
  if (s.notifications_throttled)
    report.warnings.push_back(fmt::format(
        "seccomp.notify: refused calls came faster than {} per second; past the first {} they were answered at "
        "that rate, the callers waiting",
        supervise::kNotifyPerRefill * 1000 / supervise::kNotifyRefillMs, supervise::kNotifyBurst));
  report.warnings.insert(report.warnings.end(), s.warnings.begin(), s.warnings.end());
  if (report.status == RunStatus::exit && !plan.unseen_cwd_args_warning.empty()) {
    report.unseen_cwd_args = plan.unseen_cwd_args_warning;
    report.warnings.push_back(plan.unseen_cwd_args_warning);
  }
  report.network = std::move(s.network);
  // Every jail has its own user namespace and a seccomp filter; the cgroup is what the host allows.
  report.userns = true;
  report.seccomp = true;
  report.cgroup = plan::to_string(plan.cgroup.kind);
  if (plan.landlock.enabled)
    report.landlock = LandlockEnforcement{plan.landlock.abi_kernel, plan.landlock.abi, plan.landlock.not_enforced};
  report.wall_time_ms = s.wall_ms;
}

}  // namespace aj::report

namespace aj::report {

void record_workspace(Report& report, const plan::Plan& plan, const workspace::Changes* changes, bool kept) {
  if (!plan.workspace) return;
  const plan::WorkspacePlan& ws = *plan.workspace;
  WorkspaceReport out{ws.source, ws.target, plan::to_string(ws.mode), std::nullopt, std::nullopt, std::nullopt};
  if (changes) {
    out.changes = changes->list;
    out.changes_total = changes->total;
    if (kept) out.kept = ws.keep_changes;
    report.warnings.insert(report.warnings.end(), changes->warnings.begin(), changes->warnings.end());
  }
  report.workspace = std::move(out);
}

}  // namespace aj::report
