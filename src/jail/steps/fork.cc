// The init forks the command child; the child runs its own steps (jail/command.cc).
#include <unistd.h>

#include "jail/steps/steps.h"
#include "jail/sync.h"

namespace aj::jail::steps {

Status fork_command(ChildContext& ctx) {
  pid_t command = ::fork();
  if (command < 0) {
    if (errno == EAGAIN)
      return fail(errno, "fork the command: the jail is at its process limit (limits.pids or RLIMIT_NPROC: " +
                             std::string("raise limits.pids, or --pids)"));
    return fail_errno("fork the command");
  }
  if (command == 0) command_main(ctx);
  ctx.command_pid = command;
  Msg started;
  started.type = MsgType::started;
  started.value = command;
  (void)send_msg(ctx.sync_fd, started);
  return {};
}

}  // namespace aj::jail::steps
