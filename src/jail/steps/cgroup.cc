// The init's cgroup: on cgroup v1 the jail's init joins the jail's cgroups itself.
#include <sched.h>
#include <unistd.h>

#include "jail/steps/steps.h"

namespace aj::jail::steps {

Status join_cgroup(ChildContext& ctx) {
  if (ctx.cgroup_join_fds.empty()) return {};
  for (int& fd : ctx.cgroup_join_fds) {
    // "0" is the writer itself; we are single-threaded, so this moves the whole process.
    if (::write(fd, "0", 1) != 1) return fail_errno("join the jail's cgroup");
    ::close(fd);
    fd = -1;
  }
  ctx.cgroup_join_fds.clear();
  // The cgroup namespace made by clone3 is rooted where we were born (agentjail's own cgroup);
  // a fresh one is rooted at the jail's, so /proc/self/cgroup reads "/" and shows nothing of
  // the host's hierarchy. Not when the policy turned the cgroup namespace off.
  if ((ctx.plan.clone_flags & CLONE_NEWCGROUP) && ::unshare(CLONE_NEWCGROUP) != 0)
    return fail_errno("unshare the cgroup namespace");
  return {};
}

}  // namespace aj::jail::steps
