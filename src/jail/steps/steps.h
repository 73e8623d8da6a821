// One function per child setup step; the order they run in is in jail/init.cc and
// jail/command.cc, each with the reason it sits where it does.
#pragma once

#include <span>

#include "jail/child.h"

namespace aj::jail::steps {

// --- pid 1 (init) ---
Status reset_signals(ChildContext& ctx);      // default dispositions, every signal blocked
Status die_with_parent(ChildContext& ctx);    // PR_SET_PDEATHSIG(SIGKILL), and the parent is still there
Status wait_for_go(ChildContext& ctx);        // the supervisor has written our id maps
Status join_cgroup(ChildContext& ctx);        // v1: into the jail's cgroups, then a cgroup namespace rooted there
Status private_mounts(ChildContext& ctx);     // MS_REC|MS_PRIVATE on "/": nothing propagates out
Status open_sources(ChildContext& ctx);       // O_PATH fds of every bind source, with the caller's access
Status become_jail_user(ChildContext& ctx);   // setgroups/setresgid/setresuid to the mapped ids
Status limit_user_namespace(ChildContext& ctx);  // inotify and nested-userns limits of the jail's user namespace
Status build_root(ChildContext& ctx);         // fresh tmpfs root with every mount of the plan
Status pivot_root(ChildContext& ctx);         // enter it, detach the host's root, make "/" read-only
Status set_hostname(ChildContext& ctx);       // uts namespace
Status bring_up_loopback(ChildContext& ctx);  // network.mode = "loopback"
Status park_sync_fd(ChildContext& ctx);       // move the supervisor socket to kChildSyncFd
Status harden_init(ChildContext& ctx);        // init drops every capability once the command runs

// --- the command child ---
Status new_session(ChildContext& ctx);        // setsid(): no controlling terminal
Status attach_stdio(ChildContext& ctx);       // capture pipes onto 1 and 2
Status enter_cwd(ChildContext& ctx);          // chdir(process.cwd)
Status set_umask(ChildContext& ctx);
Status resolve_command(ChildContext& ctx);    // argv[0] via the jail's PATH: 127 / 126 decided here
Status set_rlimits(ChildContext& ctx);
Status close_fds(ChildContext& ctx);          // every fd but 0, 1, 2 (and the socket, O_CLOEXEC)
Status drop_capabilities(ChildContext& ctx);  // bounding, permitted, effective, inheritable, ambient
Status no_new_privs(ChildContext& ctx);
Status unblock_signals(ChildContext& ctx);
Status install_seccomp(ChildContext& ctx);    // last: the filter forbids what the steps above needed

// Runs `list` in order; with -v each step's time goes to the supervisor. A failing step
// calls on_failure (if any, it may exit itself) and then fail_step.
void run(ChildContext& ctx, std::span<const Step> list, void (*on_failure)(ChildContext&, const Step&, const Error&));

// Reports `error` from `step` to the supervisor and exits; used by both entry points.
[[noreturn]] void fail_step(ChildContext& ctx, const char* step, const Error& error) noexcept;

}  // namespace aj::jail::steps
