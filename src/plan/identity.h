// Who the jail is on the host: the id maps of its user namespace (man agentjail(1), HOST IDS).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "host/host.h"
#include "plan/plan.h"
#include "policy/model.h"

namespace aj::plan {

// Whether this run needs a host id leased for it (host::lease_id) before it is planned, and
// from which range: run by root, `root_range` when process.host_user or host_group is left out
// (each one left out is the leased id); run by an ordinary user, its subordinate uids when it
// has them, newuidmap and newgidmap are installed and the policy binds no host directory
// read-write (a subordinate uid could not write the caller's files there). nullopt: no lease.
std::optional<host::IdRange> id_lease_range(const policy::Policy& policy, const host::Host& host,
                                            const host::IdRange& root_range);

// Fills the plan's identity: jail_uid/gid, uid_map/gid_map (their `outside` is the jail's
// host uid and gid), host_ids, how the maps are written, the setgroups handling, and a warning
// where the jail shares a host uid with something else. Where id_lease_range() asked for a
// lease, `host.leased_id` must hold it.
Status decide_identity(const policy::Policy& policy, const host::Host& host, Plan& plan,
                       std::vector<std::string>& warnings);

}  // namespace aj::plan
