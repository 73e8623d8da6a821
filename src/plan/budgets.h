// The kernel budgets a jail shares with its caller or with the whole host, and the jail's share
// of each (agentjail-policy(5), KERNEL BUDGETS). Pure: from the probed host.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host/host.h"
#include "plan/plan.h"

namespace aj::plan {

// ptys of the jail's devpts instance (its `max` option): kernel.pty.max is one budget for the
// host (4096 by default, 1024 of them reserved for the host's own devpts).
constexpr unsigned kJailPtys = 64;

// What a jail may take of the per-user budgets charged to agentjail's caller.
struct Budgets {
  uint64_t inotify_instances = 0;  // the jail's user namespace's max_inotify_instances
  uint64_t inotify_watches = 0;    // ... max_inotify_watches
  uint64_t msgqueue_bytes = 0;     // RLIMIT_MSGQUEUE of the jail's processes
};

// At most half of each of the caller's limits, divided between host.concurrent_jails jails, so
// that that many jails at once leave the caller (root, when root runs agentjail) the other
// half; never more than a program needs (32 instances, 8192 watches, 64 KiB of queues) and at
// least one instance and one watch.
Budgets jail_budgets(const host::Host& host);

// The /proc/sys/user files the jail's init writes in its new user namespace.
std::vector<Sysctl> userns_limits(const Budgets& budgets);

// vm.memfd_noexec for the jail's pid namespace: 2 (no executable memfd) where the kernel has
// it (>= 6.3) and agentjail runs as root (only the host's root may write it; the supervisor
// does, from inside the jail's pid namespace), else 0 and, when a memfd is then the only way
// to run code of the jail's own (every writable mount noexec), the warning in `warning`.
int memfd_noexec_scope(const host::Host& host, const std::vector<MountOp>& mounts, std::string* warning);

}  // namespace aj::plan
