// Who the jail is on the host: the id maps of its user namespace (man agentjail(1), HOST IDS).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "host/host.h"
#include "plan/plan.h"
#include "policy/model.h"

namespace aj::plan {

// Whether this run needs a host id leased for it (host::lease_id) before it is planned: run
// by root, with process.host_user or host_group left out of the policy (each one left out is
// the leased id).
bool needs_id_lease(const policy::Process& process, const host::Host& host);

// Fills the plan's identity: jail_uid/gid, uid_map/gid_map (their `outside` is the jail's
// host uid and gid), host_ids, the setgroups handling, and a warning where the jail shares a
// host uid with something else. Run by root without host_user, `host.leased_id` must be set.
Status decide_identity(const policy::Process& process, const host::Host& host, Plan& plan,
                       std::vector<std::string>& warnings);

}  // namespace aj::plan
