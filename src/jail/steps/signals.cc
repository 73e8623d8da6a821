// Signals and the parent: the jail must die with agentjail, and must not start before
// agentjail has written its id maps.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>

#include "jail/steps/steps.h"
#include "jail/sync.h"

namespace aj::jail::steps {

Status reset_signals(ChildContext&) {
  // Dispositions set to "ignore" survive execve; the supervisor's must not leak into the
  // command. Everything is blocked: pid 1 takes no signal it did not ask for.
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &dfl, nullptr);
  sigset_t all;
  sigfillset(&all);
  if (::sigprocmask(SIG_SETMASK, &all, nullptr) != 0) return fail_errno("block signals");
  return {};
}

Status unblock_signals(ChildContext&) {
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) return fail_errno("unblock signals");
  return {};
}

Status die_with_parent(ChildContext& ctx) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return fail_errno("PR_SET_PDEATHSIG");
  // The parent may have died before the prctl: then its end of the socket is closed.
  // (getppid() cannot tell: it is 0 for pid 1 of a pid namespace.)
  pollfd pfd{ctx.sync_fd, POLLRDHUP, 0};
  if (::poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLRDHUP))) return fail(ESRCH, "agentjail is gone");
  return {};
}

Status wait_for_go(ChildContext& ctx) {
  auto received = recv_msg(ctx.sync_fd);
  if (!received) return std::unexpected(received.error());
  if (!*received) return fail(ESRCH, "agentjail is gone");
  if ((*received)->msg.type != MsgType::go) return fail(EPROTO, "unexpected message from agentjail");
  return {};
}

}  // namespace aj::jail::steps
