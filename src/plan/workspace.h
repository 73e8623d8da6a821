// The workspace ([workspace], `run -w`): the caller's directory bound (or overlaid) into the
// jail, with the decision how files the jail writes get the right owner.
#pragma once

#include "base/error.h"
#include "host/host.h"
#include "plan/plan.h"
#include "policy/model.h"

namespace aj::plan {

// Adds the workspace of `policy` to `plan` (already holding the id maps and the policy's
// mounts): its bind (idmapped where the host allows) replacing any mount at its target, the
// overlay on top in overlay mode, the command's cwd, the id map fallback and its warning.
// `host.workspace` must be the probed source. Nothing to do without a workspace.
Status plan_workspace(const policy::Policy& policy, const host::Host& host, Plan& plan);

}  // namespace aj::plan
