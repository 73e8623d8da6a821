// The policy's [[filesystem.mount]] list expanded into mount operations: `proc` gains its
// masks and read-only parts, `dev` becomes the minimal device tree.
#pragma once

#include <vector>

#include "plan/plan.h"
#include "policy/model.h"

namespace aj::plan {

// Pure: the operations, in order, that build the jail's root from the policy's mounts.
std::vector<MountOp> expand_mounts(const std::vector<policy::Mount>& mounts);

// Joins an absolute jail path and a relative part: join_path("/proc", "sys") == "/proc/sys".
std::string join_path(const std::string& base, const std::string& rest);

}  // namespace aj::plan
