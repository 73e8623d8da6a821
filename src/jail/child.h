// The jail's side of spawn: state shared by the child steps, and the two entry points.
// Nothing here may throw or return: each entry point ends in execve or _exit.
#pragma once

#include <sys/types.h>

#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "plan/plan.h"
#include "seccomp/filter.h"

namespace aj::jail {

// Descriptors of the supervisor that become the command's 0, 1, 2 (-1: keep what was inherited).
struct Stdio {
  int in = -1, out = -1, err = -1;
  // process.new_session = false and agentjail is the foreground group of the terminal on the
  // command's fd 0: the command's own process group takes the terminal over.
  bool take_terminal = false;
};

// What the supervisor made on the host side for one mount of the plan before clone
// (workspace/prepare.h): -1 where nothing.
struct PreparedMount {
  int tree = -1;          // bind with an idmap: the detached idmapped mount, flags already set
  // overlay: its upper and work directories on the host, opened by the init (open-sources,
  // with the caller's access) so that they are mounts of the jail's own namespace, which
  // overlayfs requires of its layers.
  std::string upper_path, work_path;
};

struct ChildContext {
  const plan::Plan& plan;
  const seccomp::Filter& filter;
  Stdio stdio;
  bool verbose = false;
  int sync_fd = -1;               // our end of the socket to the supervisor
  std::vector<int> cgroup_join_fds;  // v1: the jail cgroups' `tasks` files (JailCgroup::open_join_fds)
  // A pooled jail (spawn_waiting): `plan` itself, which the wait-for-command step completes with
  // the command that arrives (argv, env, cwd, rlimits). Null: the command is in the plan already.
  plan::Plan* waiting_plan = nullptr;
  std::span<const PreparedMount> prepared;  // per plan.mounts entry, or empty

  // Filled in by the steps, in order.
  std::vector<int> source_fds;    // per plan.mounts entry: O_PATH fd of a bind's source (an overlay's upper), or -1
  std::vector<int> work_fds;      // per plan.mounts entry: an overlay's work directory, or -1
  int root_fd = -1;               // the new root while it is being built
  std::string exec_path;          // argv[0] resolved against the jail's PATH
  int listener_fd = -1;           // seccomp user-notify fd, until it is sent
  pid_t command_pid = -1;         // init: the command child, once forked
};

// pid 1 of the jail: waits for the supervisor's go, builds the root, forks the command
// child, then reaps until the command exits and reports its wait status.
[[noreturn]] void init_main(ChildContext& ctx) noexcept;

// The command child: session, stdio, cwd, limits, privileges dropped, filter, execve.
[[noreturn]] void command_main(ChildContext& ctx) noexcept;

// How a failing step is reported to the supervisor.
enum class OnFailure {
  setup_error,  // the jail could not be built: status "setup_error", exit 125
  exec_error,   // the command cannot be run as named: 127 (not found) or 126, as a shell says
};

// A step of the child's setup. It decides for itself when it has nothing to do.
struct Step {
  const char* name;
  Status (*run)(ChildContext& ctx);
  OnFailure on_failure = OnFailure::setup_error;
};

// The steps of pid 1 and of the command child, in the order they run (for tests).
std::span<const Step> init_steps();
std::span<const Step> command_steps();

}  // namespace aj::jail
