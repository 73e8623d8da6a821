// The command's process state: session, working directory, umask, resource limits.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "jail/steps/steps.h"

namespace aj::jail::steps {

Status raise_oom_score(ChildContext& ctx) {
  // The jail's own procfs, of its pid namespace: /proc/self is this process.
  // Non-dumpable (inherited from pid 1 until execve), our /proc/self files belong to root and
  // are closed to us: dumpable for the open only, when no other process of the jail but pid 1
  // exists yet.
  const std::string value = std::to_string(ctx.plan.command_oom_score_adj);
  if (::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) return fail_errno("prctl PR_SET_DUMPABLE");
  int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  const int open_errno = errno;
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail_errno("prctl PR_SET_DUMPABLE");
  errno = open_errno;
  if (fd < 0 && errno == ENOENT) return {};  // a policy without /proc (agentjail-policy(5), KERNEL BUDGETS)
  if (fd < 0) return fail_errno("open /proc/self/oom_score_adj");
  const bool written = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  const int err = errno;
  ::close(fd);
  if (!written) return fail(err, "write /proc/self/oom_score_adj");
  return {};
}

Status new_session(ChildContext& ctx) {
  // Without a controlling terminal, TIOCSTI has nothing to push keystrokes into.
  if (ctx.plan.new_session && ::setsid() < 0) return fail_errno("setsid");
  return {};
}

Status process_group(ChildContext& ctx) {
  // setsid() made us a group leader already. Without it the command still gets a process group
  // of its own: kill(0, ...) and killpg then reach the jail's processes alone, never
  // agentjail, the caller's shell or another jail sharing the caller's group.
  if (ctx.plan.new_session) return {};
  if (::setpgid(0, 0) != 0) return fail_errno("setpgid");
  // The caller's terminal stays usable: where agentjail was its foreground group, the
  // command's group becomes it (a background group reading it would be stopped by SIGTTIN).
  // Signals are still blocked here, SIGTTOU included; agentjail takes the terminal back at
  // the end (pipeline.cc).
  if (ctx.stdio.take_terminal && ::tcsetpgrp(STDIN_FILENO, ::getpgrp()) != 0)
    return fail_errno("tcsetpgrp: make the command the terminal's foreground group");
  return {};
}

Status enter_cwd(ChildContext& ctx) {
  if (::chdir(ctx.plan.cwd.c_str()) != 0)
    return fail_errno("the working directory " + ctx.plan.cwd + " (process.cwd, --cwd) is not usable in the jail");
  return {};
}

Status set_umask(ChildContext& ctx) {
  ::umask(static_cast<mode_t>(ctx.plan.umask));
  return {};
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

}  // namespace aj::jail::steps
