// One function per child setup step; the order they run in is in jail/init.cc and
// jail/command.cc, each with the reason it sits where it does.
#pragma once

#include <span>
#include <string>

#include "jail/child.h"

namespace aj::jail::steps {

// --- pid 1 (init) ---
// signals.cc: signals and the parent
Status reset_signals(ChildContext& ctx);      // default dispositions, every signal blocked
Status die_with_parent(ChildContext& ctx);    // PR_SET_PDEATHSIG(SIGKILL), and the parent is still there
Status wait_for_go(ChildContext& ctx);        // the supervisor has written our id maps
// cgroup.cc
Status join_cgroup(ChildContext& ctx);        // v1: into the jail's cgroups, then a cgroup namespace rooted there
// root.cc: the new root
Status private_mounts(ChildContext& ctx);     // MS_REC|MS_PRIVATE on "/": nothing propagates out
Status open_sources(ChildContext& ctx);       // O_PATH fds of every bind source, with the caller's access
Status build_root(ChildContext& ctx);         // fresh tmpfs root with every mount of the plan
// identity.cc: who the jail is
Status become_jail_user(ChildContext& ctx);   // setgroups/setresgid/setresuid to the mapped ids
Status limit_user_namespace(ChildContext& ctx);  // the plan's /proc/sys/user limits of the jail's user namespace
Status make_non_dumpable(ChildContext& ctx);  // PR_SET_DUMPABLE 0
Status harden_init(ChildContext& ctx);        // init drops every capability once the command runs
// enter.cc: entering the root, the namespaces' settings
Status pivot_root(ChildContext& ctx);         // enter it, detach the host's root, make "/" read-only
Status set_hostname(ChildContext& ctx);       // uts namespace
Status bring_up_loopback(ChildContext& ctx);  // network.mode = "loopback"
// network.cc
Status network_allowlist(ChildContext& ctx);  // "allowlist": AnyIP routes, listeners sent to the supervisor
// fds.cc: descriptors
Status park_sync_fd(ChildContext& ctx);       // move the supervisor socket to plan.child_sync_fd
Status close_init_fds(ChildContext& ctx);     // init: everything but the socket
// handoff.cc: a pooled jail
Status wait_for_command(ChildContext& ctx);   // pooled only: say "waiting", take stdio and the command
// fork.cc
Status fork_command(ChildContext& ctx);       // the command child (runs command_main), and "started"

// --- the command child ---
Status raise_oom_score(ChildContext& ctx);    // process.cc: oom_score_adj = plan.command_oom_score_adj
Status new_session(ChildContext& ctx);        // process.cc: setsid(): no controlling terminal
Status process_group(ChildContext& ctx);      // process.cc: without setsid, still a group of its own
Status attach_stdio(ChildContext& ctx);       // fds.cc: capture pipes onto 1 and 2
Status close_fds(ChildContext& ctx);          // fds.cc: every fd but 0, 1, 2 (and the socket, O_CLOEXEC)
Status enter_cwd(ChildContext& ctx);          // process.cc: chdir(process.cwd)
Status set_umask(ChildContext& ctx);          // process.cc
Status drop_capabilities(ChildContext& ctx);  // identity.cc: bounding, permitted, effective, inheritable, ambient
Status no_new_privs(ChildContext& ctx);       // identity.cc
Status apply_landlock(ChildContext& ctx);     // landlock.cc: the plan's ruleset over the mounts (none: nothing)
Status resolve_command(ChildContext& ctx);    // exec.cc: argv[0] via the jail's PATH: 127 / 126 decided here
Status set_rlimits(ChildContext& ctx);        // process.cc
Status unblock_signals(ChildContext& ctx);    // signals.cc
Status install_seccomp(ChildContext& ctx);    // seccomp.cc: last: the filter forbids what the steps above needed

// Runs `list` in order; with -v each step's time goes to the supervisor. A failing step is
// reported as its row says (fail_step or exec_failed), which exits.
void run(ChildContext& ctx, std::span<const Step> list);

// Reports `error` from `step` to the supervisor and exits 125.
[[noreturn]] void fail_step(ChildContext& ctx, const char* step, const Error& error) noexcept;
// Reports that the command cannot be executed (`err`: ENOENT -> 127, else 126) and exits so.
[[noreturn]] void exec_failed(ChildContext& ctx, int err, const std::string& what) noexcept;

}  // namespace aj::jail::steps
