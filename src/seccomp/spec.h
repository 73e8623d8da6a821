// From a policy to the FilterSpec the jail installs, shared by the planner and
// `agentjail seccomp`, so the exported filter is exactly the one a run would use.
#pragma once

#include "policy/model.h"
#include "seccomp/filter.h"

namespace aj::seccomp {

// The policy's [seccomp] table and network.mode, with sendmsg kept open on the jail's sync
// socket. notify is on when the policy asks for it and `notify_supported` (notify.h) says the
// kernel can; otherwise refusals are plain errno/kill/log and the planner warns.
FilterSpec spec_for(const policy::Policy& policy, bool notify_supported);

}  // namespace aj::seccomp
