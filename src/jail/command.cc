// The command child, forked by pid 1 inside the finished root. Its steps, in order:
#include <unistd.h>

#include <vector>

#include "jail/steps/steps.h"
#include "jail/sync.h"

namespace aj::jail {
namespace {

constexpr Step kCommandSteps[] = {
    // Our parent is pid 1 of the jail; if it goes, so do we.
    {"die-with-parent", steps::die_with_parent},
    // No controlling terminal: nothing for TIOCSTI to inject into.
    {"new-session", steps::new_session},
    {"stdio", steps::attach_stdio},
    // Every inherited fd but 0-2 (and the socket, which execve closes) is gone.
    {"close-fds", steps::close_fds},
    {"cwd", steps::enter_cwd},
    {"umask", steps::set_umask},
    // Privileges go before anything looks at files as the command would.
    {"drop-capabilities", steps::drop_capabilities},
    {"no-new-privs", steps::no_new_privs},
    // With the command's own credentials, so 126/127 are what the command would hit.
    {"resolve-command", steps::resolve_command},
    // Late: RLIMIT_AS and RLIMIT_NOFILE must not starve the steps above.
    {"rlimits", steps::set_rlimits},
    {"unblock-signals", steps::unblock_signals},
    // Last: the filter forbids what every step above needed.
    {"seccomp", steps::install_seccomp},
};

[[noreturn]] void exec_failed(ChildContext& ctx, int err, const std::string& what) {
  Msg msg;
  msg.type = MsgType::exec_error;
  msg.error = err;
  msg.value = err == ENOENT ? 127 : 126;
  msg.set_text(what);
  (void)send_msg(ctx.sync_fd, msg);
  ::_exit(static_cast<int>(msg.value));
}

void resolve_failed(ChildContext& ctx, const Step& step, const Error& error) {
  if (step.run == steps::resolve_command) exec_failed(ctx, error.code, error.message);
}

}  // namespace

[[noreturn]] void command_main(ChildContext& ctx) noexcept {
  // Built before the filter: a policy may well refuse the mmap a late allocation would need.
  std::vector<char*> argv, envp;
  for (const auto& arg : ctx.plan.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  for (const auto& var : ctx.plan.env) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);
  steps::run(ctx, kCommandSteps, resolve_failed);
  ::execve(ctx.exec_path.c_str(), argv.data(), envp.data());
  exec_failed(ctx, errno, ctx.exec_path);
}

}  // namespace aj::jail
