// The jail's cgroup: created below our own cgroup only, limits written, usage read,
// everything in it killed and the directory removed when the owner goes away.
//
// Directory names are "agentjail-<pid>-<random>" (the jail) and "agentjail-<pid>-<random>-self"
// (the leaf agentjail moves itself into on cgroup v2 when its own cgroup must give up its
// processes to enable controllers; at the end it moves back, disables what it enabled and
// removes the leaf when nothing else lives there). The owner holds an flock on each directory,
// so a later run can tell a stale directory (owner pid gone, lock free) from a live one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "host/host.h"
#include "limits/limits.h"
#include "plan/plan.h"
#include "sys/fd.h"

namespace aj::cgroup {

using plan::CgroupKind;

struct Usage {
  std::optional<double> user_ms, system_ms;  // whole jail
  std::optional<uint64_t> memory_peak_bytes;
  std::optional<uint64_t> pids_peak;
  bool oom_killed = false;      // memory.events oom_kill > 0 (v2) / memory.oom_control oom_kill (v1)
  bool pids_max_hit = false;    // pids.events max > 0
};

class JailCgroup {
 public:
  // Creates the cgroup(s) for run `id` and writes the limits `enforcement` says it enforces.
  static Result<JailCgroup> create(const std::string& id, const Limits& limits, const plan::CgroupPlan& enforcement,
                                   const host::Host& host);
  JailCgroup(JailCgroup&&) noexcept;
  JailCgroup& operator=(JailCgroup&&) noexcept;
  ~JailCgroup();  // kill_all(), then remove every jail directory created (retrying while busy)

  CgroupKind kind() const;
  // v2 directory fd for clone3(CLONE_INTO_CGROUP); -1 when the child must be attached by pid.
  int clone_fd() const;
  // Moves `pid` (a process we started, not yet running jailed code) into every cgroup.
  Status attach(pid_t pid);
  // v1: per hierarchy, the jail directory's `tasks` file opened for writing (O_CLOEXEC), for
  // the jail's init to join with write("0"): a single-threaded process moving itself is the one
  // case where the kernel skips the global threadgroup lock, and with it the RCU grace period
  // (5-15 ms) that attach(pid) waits for on every run. Empty for v2, which starts the child in
  // its cgroup with clone3(CLONE_INTO_CGROUP).
  Result<std::vector<sys::UniqueFd>> open_join_fds() const;
  // Whole-jail CPU time so far (user + system), for the cpu_time limit.
  std::optional<double> cpu_ms() const;
  Usage usage() const;
  // cgroup.kill, or SIGKILL every pid listed until none is left (bounded: about 2 s).
  Status kill_all();
  // The jail's directories, one per hierarchy (for tests and -v).
  std::vector<std::string> paths() const;

 private:
  JailCgroup();
  void teardown() noexcept;  // what the destructor does
  struct State;
  std::unique_ptr<State> state_;
};

// Removes empty agentjail cgroups left by runs that were SIGKILLed (their owner pid is gone
// and nobody holds their lock) below our own cgroups; returns how many it removed. Directories
// that still hold processes are left alone: they are not ours to kill.
int remove_stale(const host::Host& host);

}  // namespace aj::cgroup
