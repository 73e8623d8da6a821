// The seccomp filter: installed last, because it forbids what the steps before it needed.
#include "jail/steps/steps.h"
#include "jail/sync.h"

namespace aj::jail::steps {

Status install_seccomp(ChildContext& ctx) {
  int listener = -1;
  if (int rc = seccomp::install(ctx.filter, &listener); rc < 0) return fail(-rc, "install the seccomp filter");
  if (listener >= 0) {
    // Only sendmsg on the sync fd (plan.child_sync_fd) is still allowed to us: hand the listener over now.
    Msg msg;
    msg.type = MsgType::listener;
    if (int rc = send_msg(ctx.sync_fd, msg, listener); rc < 0) return fail(-rc, "send the seccomp listener");
    ctx.listener_fd = listener;  // O_CLOEXEC: gone at execve
  }
  return {};
}

}  // namespace aj::jail::steps
