// The parent side of starting a jail: clone into the namespaces (and the cgroup), write
// the id maps, say go.
#pragma once

#include "base/error.h"
#include "cgroup/cgroup.h"
#include "jail/child.h"
#include "plan/plan.h"
#include "seccomp/filter.h"
#include "sys/fd.h"
#include "sys/process.h"

namespace aj::jail {

struct Jail {
  sys::ScopedChild init;  // pid 1 of the jail, killed and reaped if dropped
  sys::UniqueFd sync;     // our end of the socket: setup errors, the listener, the exit status
};

// Starts pid 1 of the jail and lets it build the root. Returns once it is on its way; its
// progress and failures arrive on Jail::sync. `cgroup` may be null (no cgroup enforcement).
// `prepared`: per plan.mounts entry, what the supervisor made for it (workspace/), or empty.
Result<Jail> spawn(const plan::Plan& plan, const seccomp::Filter& filter, cgroup::JailCgroup* cgroup,
                   const Stdio& stdio, bool verbose, std::span<const PreparedMount> prepared = {});

// A pooled jail: as spawn, but pid 1 stops at its wait-for-command step with the jail built
// and waits there for jail::hand_over (jail/handoff.h), which completes `plan` — the jail's
// copy of it — with the command. `plan` must outlive the jail.
Result<Jail> spawn_waiting(plan::Plan& plan, const seccomp::Filter& filter, cgroup::JailCgroup* cgroup,
                           bool verbose, std::span<const PreparedMount> prepared = {});

}  // namespace aj::jail
