// Filling the report from a run: the limits the plan enforced, what the supervisor observed and
// what the cgroup measured. The supervisor decides the outcome (supervise/outcome.h); this only
// restates it in the report's terms.
#pragma once

#include <optional>

#include "cgroup/cgroup.h"
#include "limits/limits.h"
#include "plan/plan.h"
#include "report/report.h"
#include "supervise/supervisor.h"
#include "workspace/changes.h"

namespace aj::report {

// The report's "limits" block: what the run was held to (known before the jail exists).
void record_limits(Report& report, const Limits& limits);

// Status, exit code, signal, error, times, memory, violations, enforcement and the warnings of a
// run the supervisor saw through; `usage` is the cgroup's, when the jail had one.
void record_run(Report& report, const plan::Plan& plan, supervise::Supervised& supervised,
                const std::optional<cgroup::Usage>& usage);

// The report's "workspace" block from the plan and, in overlay mode, what the jail changed
// (`changes`, with `kept` once they were copied to keep_changes); its warnings join the report's.
void record_workspace(Report& report, const plan::Plan& plan, const workspace::Changes* changes, bool kept);

}  // namespace aj::report
