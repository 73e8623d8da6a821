// Process state: the init's cgroup and sync socket; the command's session, stdio, working
// directory, limits, descriptors.
#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/strings.h"
#include "jail/steps/steps.h"
#include "jail/sync.h"

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

Status park_sync_fd(ChildContext& ctx) {
  // A fixed, high number, so the seccomp filter can allow sendmsg on exactly this fd.
  if (ctx.sync_fd == kChildSyncFd) return {};
  if (::dup3(ctx.sync_fd, kChildSyncFd, O_CLOEXEC) < 0) return fail_errno("dup the sync socket");
  ::close(ctx.sync_fd);
  ctx.sync_fd = kChildSyncFd;
  return {};
}

Status new_session(ChildContext& ctx) {
  // Without a controlling terminal, TIOCSTI has nothing to push keystrokes into.
  if (ctx.plan.new_session && ::setsid() < 0) return fail_errno("setsid");
  return {};
}

Status attach_stdio(ChildContext& ctx) {
  const int wanted[3] = {ctx.stdio.in, ctx.stdio.out, ctx.stdio.err};
  for (int target = 0; target < 3; ++target) {
    if (wanted[target] < 0 || wanted[target] == target) continue;
    if (::dup2(wanted[target], target) < 0) return fail_errno("dup2 onto fd " + std::to_string(target));
  }
  return {};
}

Status enter_cwd(ChildContext& ctx) {
  if (::chdir(ctx.plan.cwd.c_str()) != 0) return fail_errno("cwd " + ctx.plan.cwd);
  return {};
}

Status set_umask(ChildContext& ctx) {
  ::umask(static_cast<mode_t>(ctx.plan.umask));
  return {};
}

Status resolve_command(ChildContext& ctx) {
  // Decided here, before the filter, so "not found" (127) and "not executable" (126) are
  // told apart the way a shell does, from inside the jail's own filesystem.
  const std::string& name = ctx.plan.argv.front();
  auto executable = [](const std::string& path) -> int {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return errno == EACCES ? EACCES : ENOENT;
    if (S_ISDIR(st.st_mode)) return EACCES;
    if (::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) != 0) return EACCES;
    return 0;
  };
  if (name.find('/') != std::string::npos) {
    int err = executable(name);
    if (err) return fail(err, name);
    ctx.exec_path = name;
    return {};
  }
  int first_error = ENOENT;
  for (const auto& dir : split(ctx.plan.path_env, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    int err = executable(candidate);
    if (err == 0) {
      ctx.exec_path = candidate;
      return {};
    }
    if (err == EACCES) first_error = EACCES;
  }
  return fail(first_error, name);
}

Status set_rlimits(ChildContext& ctx) {
  for (const auto& limit : ctx.plan.rlimits) {
    rlimit current{};
    if (::getrlimit(limit.resource, &current) != 0) return fail_errno(std::string("getrlimit ") + limit.name);
    // Never above the caller's own hard limit (raising it needs privilege): a lower limit
    // is stricter than the policy asked, never weaker.
    rlimit wanted{std::min<rlim_t>(limit.soft, current.rlim_max), std::min<rlim_t>(limit.hard, current.rlim_max)};
    if (::setrlimit(limit.resource, &wanted) != 0) return fail_errno(std::string("setrlimit ") + limit.name);
  }
  return {};
}

Status close_fds(ChildContext& ctx) {
  // Everything the supervisor and init had open (bind sources, pipes, pidfds) is gone;
  // the socket stays until execve closes it (O_CLOEXEC).
  if (::close_range(3, kChildSyncFd - 1, 0) != 0) return fail_errno("close_range");
  if (::close_range(kChildSyncFd + 1, ~0U, 0) != 0) return fail_errno("close_range");
  (void)ctx;
  return {};
}

}  // namespace aj::jail::steps
