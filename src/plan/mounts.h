// The policy's [[filesystem.mount]] list expanded into mount operations: `proc` gains its
// masks and read-only parts, `dev` becomes the minimal device tree.
#pragma once

#include <vector>

#include "plan/plan.h"
#include "policy/model.h"

namespace aj::plan {

// Pure: the operations, in order, that build the jail's root from the policy's mounts.
std::vector<MountOp> expand_mounts(const std::vector<policy::Mount>& mounts);

// Pure: refuses a bind whose source (the host's) or target (the jail's) is at or below /proc,
// /sys or /dev, unless its mount says unsafe_host_kernel_fs = true, which adds a warning
// instead. A bind there would replace the jail's fresh, masked procfs or minimal /dev with the
// host's, or hand the jail the host's kernel interfaces. Paths are compared lexically; the
// opened source is checked again in the jail (agentjail-policy(5), HOST KERNEL FILESYSTEMS).
Status check_host_kernel_binds(const std::vector<MountOp>& mounts, std::vector<std::string>& warnings);

// Joins an absolute jail path and a relative part: join_path("/proc", "sys") == "/proc/sys".
std::string join_path(const std::string& base, const std::string& rest);

}  // namespace aj::plan
