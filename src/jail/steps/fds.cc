// Descriptors: the supervisor socket's fixed number, the command's 0-2, and nothing else.
#include <fcntl.h>
#include <unistd.h>

#include "jail/steps/steps.h"

namespace aj::jail::steps {

Status park_sync_fd(ChildContext& ctx) {
  // A fixed, high number, so the seccomp filter can allow sendmsg on exactly this fd.
  const int parked = ctx.plan.child_sync_fd;
  if (ctx.sync_fd == parked) return {};
  if (::dup3(ctx.sync_fd, parked, O_CLOEXEC) < 0) return fail_errno("dup the sync socket");
  ::close(ctx.sync_fd);
  ctx.sync_fd = parked;
  return {};
}

// Closes every descriptor from `from` on except the socket.
static Status close_all_but_socket(ChildContext& ctx, unsigned from) {
  const auto socket = static_cast<unsigned>(ctx.sync_fd);
  if (socket > from && ::close_range(from, socket - 1, 0) != 0) return fail_errno("close_range");
  if (::close_range(socket + 1, ~0U, 0) != 0) return fail_errno("close_range");
  return {};
}

Status close_init_fds(ChildContext& ctx) {
  // The command child has what it needs; pid 1 keeps the socket alone (0-2 included: it
  // writes nowhere, and holding the capture pipes would keep them from reaching EOF).
  return close_all_but_socket(ctx, 0);
}

Status attach_stdio(ChildContext& ctx) {
  const int wanted[3] = {ctx.stdio.in, ctx.stdio.out, ctx.stdio.err};
  for (int target = 0; target < 3; ++target) {
    if (wanted[target] < 0 || wanted[target] == target) continue;
    if (::dup2(wanted[target], target) < 0) return fail_errno("dup2 onto fd " + std::to_string(target));
  }
  return {};
}

Status close_fds(ChildContext& ctx) {
  // Everything the supervisor and init had open (bind sources, pipes, pidfds) is gone;
  // the socket stays until execve closes it (O_CLOEXEC).
  return close_all_but_socket(ctx, 3);
}

}  // namespace aj::jail::steps
