// The cgroup part of the host probe (v2 and v1), apart from the rest of probe().
#pragma once

#include <string>
#include <vector>

#include "host/host.h"
#include "host/procfs.h"

namespace aj::host {

// Fills host.cgroup_v2 and host.cgroup_v1 from the parsed mountinfo and /proc/self/cgroup,
// reading (never writing) the cgroup files of our own cgroups. host.pid, euid and kernel
// must be set.
void probe_cgroups(Host& host, const std::vector<CgroupMount>& mounts, const std::vector<ProcCgroupLine>& lines);

}  // namespace aj::host
