// pid 1 of the jail. Its setup steps run in this order, each for a reason:
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "jail/steps/steps.h"
#include "jail/sync.h"
#include "sys/process.h"

namespace aj::jail {
namespace {

constexpr Step kInitSteps[] = {
    // Inherited "ignore" dispositions must not reach the command; pid 1 blocks the rest.
    {"reset-signals", steps::reset_signals},
    // From here on, agentjail dying (even by SIGKILL) takes the whole jail with it.
    {"die-with-parent", steps::die_with_parent},
    // The supervisor writes our uid/gid maps (and attaches a v2 cgroup clone3 could not start
    // us in); nothing runs before that.
    {"wait-for-go", steps::wait_for_go},
    // Before we allocate anything worth accounting, and before the command can fork.
    {"join-cgroup", steps::join_cgroup},
    // Before any mount: no mount event may propagate back to the host.
    {"private-mounts", steps::private_mounts},
    // With the caller's own file access, before our credentials change.
    {"open-sources", steps::open_sources},
    // Files we create below must belong to a mapped id; capabilities stay until the end.
    {"become-jail-user", steps::become_jail_user},
    // With our capabilities in the new user namespace, before /proc/sys is out of reach.
    {"limit-user-namespace", steps::limit_user_namespace},
    {"build-root", steps::build_root},
    {"pivot-root", steps::pivot_root},
    {"hostname", steps::set_hostname},
    {"loopback", steps::bring_up_loopback},
    // Where the command child (and its seccomp filter) expect the socket.
    {"sync-fd", steps::park_sync_fd},
};

}  // namespace

namespace steps {

void run(ChildContext& ctx, std::span<const Step> list, void (*on_failure)(ChildContext&, const Step&, const Error&)) {
  for (const Step& step : list) {
    double started = ctx.verbose ? sys::monotonic_ms() : 0;
    if (auto ok = step.run(ctx); !ok) {
      if (on_failure) on_failure(ctx, step, ok.error());
      fail_step(ctx, step.name, ok.error());
    }
    if (!ctx.verbose) continue;
    Msg msg;
    msg.type = MsgType::step_done;
    msg.set_step(step.name);
    msg.value = static_cast<int64_t>((sys::monotonic_ms() - started) * 1000);
    (void)send_msg(ctx.sync_fd, msg);
  }
}

void fail_step(ChildContext& ctx, const char* step, const Error& error) noexcept {
  Msg msg;
  msg.type = MsgType::setup_error;
  msg.error = error.code;
  msg.set_step(step);
  msg.set_text(error.message);
  (void)send_msg(ctx.sync_fd, msg);
  ::_exit(125);
}

}  // namespace steps


[[noreturn]] void init_main(ChildContext& ctx) noexcept {
  // The jail can read /proc/1/cmdline: agentjail's own command line (bind sources, --env
  // values, the report path) is none of its business.
  sys::overwrite_argv("agentjail-init");
  steps::run(ctx, kInitSteps, nullptr);
  // The init stays non-dumpable: the command (same uid) can neither ptrace it nor open its
  // /proc/1/{exe,mem,fd}, so the agentjail binary on the host is out of reach.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) steps::fail_step(ctx, "non-dumpable", Error{errno, "PR_SET_DUMPABLE"});

  pid_t command = ::fork();
  if (command < 0) steps::fail_step(ctx, "fork-command", Error{errno, "fork"});
  if (command == 0) command_main(ctx);

  Msg started;
  started.type = MsgType::started;
  started.value = command;
  (void)send_msg(ctx.sync_fd, started);
  // Only the socket stays open in pid 1: it holds no pipe end, no bind source, nothing.
  ::close_range(0, kChildSyncFd - 1, 0);
  ::close_range(kChildSyncFd + 1, ~0U, 0);
  if (auto ok = steps::harden_init(ctx); !ok) steps::fail_step(ctx, "harden-init", ok.error());

  // Reap everything; when the command itself ends, report it and exit: the kernel then
  // SIGKILLs every process left in the pid namespace (daemons included).
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, __WALL);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) ::_exit(125);  // no child left: cannot happen before the command is reaped
    if (pid != command) continue;
    Msg exited;
    exited.type = MsgType::exited;
    exited.value = status;
    (void)send_msg(ctx.sync_fd, exited);
    ::_exit(0);
  }
}

}  // namespace aj::jail
