// The command child, forked by pid 1 inside the finished root. Its steps, in order, then execve.
#include <unistd.h>

#include <vector>

#include "jail/steps/steps.h"
#include "jail/sync.h"

namespace aj::jail {
namespace {

constexpr Step kCommandSteps[] = {
    // Our parent is pid 1 of the jail; if it goes, so do we.
    {"die-with-parent", steps::die_with_parent},
    // The OOM killer takes the command (and all it starts) before pid 1, whose death would
    // end the run without its verdict. Raising needs no privilege; before anything allocates.
    {"oom-score", steps::raise_oom_score},
    // No controlling terminal: nothing for TIOCSTI to inject into.
    {"new-session", steps::new_session},
    // The capture pipes (or /dev/null) become 0-2 before anything below can write there.
    {"stdio", steps::attach_stdio},
    // With new_session = false: a group of its own all the same, and the caller's terminal's
    // foreground group if agentjail had it (fd 0 is the terminal by now; signals still blocked).
    {"process-group", steps::process_group},
    // Every inherited fd but 0-2 (and the socket, which execve closes) is gone.
    {"close-fds", steps::close_fds},
    // The jail's paths, as the command will see them (relative argv[0] resolves from here).
    {"cwd", steps::enter_cwd},
    {"umask", steps::set_umask},
    // Privileges go before anything looks at files as the command would.
    {"drop-capabilities", steps::drop_capabilities},
    {"no-new-privs", steps::no_new_privs},
    // The second fence over the mounts. Restricting oneself needs no_new_privs (no capability
    // is left); before the command's own lookups, so 126/127 are what the command would hit.
    {"landlock", steps::apply_landlock},
    // With the command's own credentials, so 126/127 are what the command would hit.
    {"resolve-command", steps::resolve_command, OnFailure::exec_error},
    // Late: RLIMIT_AS and RLIMIT_NOFILE must not starve the steps above.
    {"rlimits", steps::set_rlimits},
    // pid 1 blocked every signal; the command gets the default mask (SIGINT etc. work again).
    {"unblock-signals", steps::unblock_signals},
    // Last: the filter forbids what every step above needed.
    {"seccomp", steps::install_seccomp},
};

}  // namespace

std::span<const Step> command_steps() { return kCommandSteps; }

[[noreturn]] void command_main(ChildContext& ctx) noexcept {
  // Built before the filter: a policy may well refuse the mmap a late allocation would need.
  std::vector<char*> argv, envp;
  for (const auto& arg : ctx.plan.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  for (const auto& var : ctx.plan.env) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);
  steps::run(ctx, kCommandSteps);
  // The wall limit counts from here; until then the set-up bound runs.
  Msg exec;
  exec.type = MsgType::exec;
  (void)send_msg(ctx.sync_fd, exec);
  ::execve(ctx.exec_path.c_str(), argv.data(), envp.data());
  steps::exec_failed(ctx, errno, ctx.exec_path);
}

}  // namespace aj::jail
