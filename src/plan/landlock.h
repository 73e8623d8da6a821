// The jail's Landlock ruleset, derived from its mounts (agentjail-policy(5), LANDLOCK): the
// second fence, which holds where a mount alone would let the command through (a file it
// reaches by a /proc/self/fd link, a device node it creates in a writable tmpfs).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "host/host.h"
#include "plan/plan.h"
#include "policy/model.h"

namespace aj::plan {

// The newest Landlock ABI whose rights agentjail uses (6: abstract unix sockets and signals scoped).
constexpr int kLandlockNewestAbi = 6;

// Every right agentjail's ruleset can enforce, by the name the report's not_enforced uses
// ("read_file", ..., "truncate", "ioctl_dev", "abstract_unix_socket", "signal"), oldest ABI first.
std::vector<std::string> landlock_right_names();

// Pure. The ruleset for `mounts` (the plan's, in mount order) on `host`, for the newest ABI the
// kernel, agentjail and host.landlock_abi_cap allow; what it leaves out goes to `warnings`, one
// line per right. landlock = "required" with no Landlock ABI at all is an error.
Result<LandlockPlan> decide_landlock(policy::LandlockMode mode, const std::vector<MountOp>& mounts,
                                     const host::Host& host, std::vector<std::string>& warnings);

}  // namespace aj::plan
