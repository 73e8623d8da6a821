// A pooled jail's wait for its command: everything before this step is the jail, built ahead
// of any request; what arrives here is the command's data and its stdio (jail/handoff.h).
#include <unistd.h>

#include "jail/handoff.h"
#include "jail/steps/steps.h"
#include "jail/sync.h"

namespace aj::jail::steps {

Status wait_for_command(ChildContext& ctx) {
  if (!ctx.waiting_plan) return {};  // a cold run: the command is in the plan already
  Msg waiting;
  waiting.type = MsgType::waiting;
  if (int rc = send_msg(ctx.sync_fd, waiting); rc < 0) return fail(-rc, "tell the supervisor the jail is ready");
  int* const slots[3] = {&ctx.stdio.in, &ctx.stdio.out, &ctx.stdio.err};
  while (true) {
    auto received = recv_msg(ctx.sync_fd);
    if (!received) return std::unexpected(received.error());
    // The pool let this jail go unused (the server stops): nothing to run.
    if (!*received) ::_exit(0);
    auto& [msg, fd] = **received;
    if (msg.type == MsgType::stdio && fd && msg.value >= 0 && msg.value <= 2) {
      // Kept open (O_CLOEXEC) for the command child, which puts it on 0-2 in its stdio step.
      *slots[msg.value] = fd.release();
      continue;
    }
    if (msg.type != MsgType::command || !fd || msg.value < 0 || static_cast<size_t>(msg.value) > kMaxCommandBytes)
      return fail(EPROTO, "unexpected message while waiting for the command");
    std::string bytes(static_cast<size_t>(msg.value), '\0');
    size_t got = 0;
    while (got < bytes.size()) {
      ssize_t n = ::pread(fd.get(), bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(n < 0 ? errno : EPROTO, "read the command");
      got += static_cast<size_t>(n);
    }
    return decode_command(bytes, *ctx.waiting_plan);
  }
}

}  // namespace aj::jail::steps
