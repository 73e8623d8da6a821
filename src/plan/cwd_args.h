// Files of the caller's working directory that the command names but the jail does not see,
// so that a failed run can say so (agentjail(1), WORKSPACE).
#pragma once

#include <string>
#include <vector>

#include "host/host.h"
#include "plan/plan.h"

namespace aj::plan {

// Of `cwd.args`, those the jail will not find as the same host file at the path the command
// gives: a relative one taken from plan.cwd, an absolute one as it is, looked up through
// plan.mounts (the last mount over a path decides; only a bind, or an overlay on its bind,
// shows a host file). A path that runs through a symlink mount is not judged. Pure.
std::vector<std::string> unseen_cwd_args(const host::CallerCwd& cwd, const Plan& plan);

// The warning for `unseen` (unseen_cwd_args) arguments of a run in `host_cwd`, with the fix.
std::string unseen_cwd_args_warning(const std::vector<std::string>& unseen, const std::string& host_cwd);

}  // namespace aj::plan
