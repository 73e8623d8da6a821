// pid 1 of the jail. Its steps run in this order, each for a reason; then it reaps.
#include <sys/wait.h>
#include <unistd.h>

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
    // Changing credentials cleared the parent-death signal: set it again at once.
    {"die-with-parent-again", steps::die_with_parent},
    // With our capabilities in the new user namespace, before /proc/sys is out of reach.
    {"limit-user-namespace", steps::limit_user_namespace},
    // Every mount of the plan, on a fresh tmpfs hung at the staging point; source fds closed.
    {"build-root", steps::build_root},
    // After the root is complete: entering it detaches the host's tree for good.
    {"pivot-root", steps::pivot_root},
    // Namespace settings need our capabilities in the namespaces, which end with harden-init.
    {"hostname", steps::set_hostname},
    {"loopback", steps::bring_up_loopback},
    // Needs CAP_NET_ADMIN over the jail's network namespace (gone with harden-init), and the
    // listeners must exist before the command can connect; the init keeps no copy of them.
    {"network-allowlist", steps::network_allowlist},
    // Where the command child (and its seccomp filter) expect the socket.
    {"sync-fd", steps::park_sync_fd},
    // The command (same uid) can neither ptrace us nor open our /proc/1/{exe,mem,fd}, so the
    // agentjail binary on the host stays out of its reach. Before the fork: it inherits it and
    // execve resets it for the command only.
    {"non-dumpable", steps::make_non_dumpable},
    // A pooled jail is complete here and waits for its command (argv, env, cwd, limits, stdio):
    // everything above is the jail, everything below the one command it runs. Cold runs skip it.
    {"wait-for-command", steps::wait_for_command},
    // The command child runs its own steps (jail/command.cc) and never returns here.
    {"fork-command", steps::fork_command},
    // Only the socket stays open in pid 1: it holds no pipe end, no bind source, nothing.
    {"close-init-fds", steps::close_init_fds},
    // pid 1 only waits and reports from here on: it needs no capability at all.
    {"harden-init", steps::harden_init},
};

// Reaps everything; when the command itself ends, reports its wait status and exits: the
// kernel then SIGKILLs every process left in the pid namespace (daemons included).
[[noreturn]] void reap_until_command_exits(ChildContext& ctx) {
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, __WALL);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) ::_exit(125);  // no child left: cannot happen before the command is reaped
    if (pid != ctx.command_pid) continue;
    Msg exited;
    exited.type = MsgType::exited;
    exited.value = status;
    (void)send_msg(ctx.sync_fd, exited);
    ::_exit(0);
  }
}

}  // namespace

std::span<const Step> init_steps() { return kInitSteps; }

namespace steps {

void run(ChildContext& ctx, std::span<const Step> list) {
  for (const Step& step : list) {
    double started = ctx.verbose ? sys::monotonic_ms() : 0;
    if (auto ok = step.run(ctx); !ok) {
      if (step.on_failure == OnFailure::exec_error) exec_failed(ctx, ok.error().code, ok.error().message);
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

void exec_failed(ChildContext& ctx, int err, const std::string& what) noexcept {
  Msg msg;
  msg.type = MsgType::exec_error;
  msg.error = err;
  msg.value = err == ENOENT ? 127 : 126;
  msg.set_text(what);
  (void)send_msg(ctx.sync_fd, msg);
  ::_exit(static_cast<int>(msg.value));
}

}  // namespace steps

[[noreturn]] void init_main(ChildContext& ctx) noexcept {
  // The jail can read /proc/1/cmdline: agentjail's own command line (bind sources, --env
  // values, the report path) is none of its business.
  sys::overwrite_argv("agentjail-init");
  steps::run(ctx, kInitSteps);
  reap_until_command_exits(ctx);
}

}  // namespace aj::jail
