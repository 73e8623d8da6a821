// The jail's cgroup: created below our own cgroup only, limits written, usage read,
// everything in it killed and the directory removed when the owner goes away.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "host/host.h"
#include "policy/model.h"
#include "sys/fd.h"

namespace aj::cgroup {

enum class Kind { none, v1, v2 };
const char* to_string(Kind kind);  // "none" | "v1" | "v2", as the report's enforcement.cgroup

// How each limit of the policy is enforced on this host; pure, for the planner and doctor.
struct Enforcement {
  Kind kind = Kind::none;
  bool memory = false, pids = false, cpus = false, cpu_time = false;  // by the cgroup
  bool rlimit_as = false;       // memory falls back to RLIMIT_AS (per process)
  bool rlimit_nproc = false;    // pids fall back to RLIMIT_NPROC (per host uid, not per jail)
  std::vector<std::string> warnings;  // one line per limit that is weaker than the policy asks
};
Enforcement decide(const policy::Limits& limits, const host::Host& host);

struct Usage {
  std::optional<double> user_ms, system_ms;  // whole jail
  std::optional<uint64_t> memory_peak_bytes;
  std::optional<uint64_t> pids_peak;
  bool oom_killed = false;      // memory.events oom_kill > 0 (v2) / memory.oom_control (v1)
  bool pids_max_hit = false;    // pids.events max > 0
};

class JailCgroup {
 public:
  // Creates the cgroup(s) for run `id` and writes the limits `enforcement` says it enforces.
  static Result<JailCgroup> create(const std::string& id, const policy::Limits& limits, const Enforcement& enforcement,
                                   const host::Host& host);
  JailCgroup(JailCgroup&&) noexcept;
  JailCgroup& operator=(JailCgroup&&) noexcept;
  ~JailCgroup();  // kill_all(), then remove every directory created

  Kind kind() const;
  // v2 directory fd for clone3(CLONE_INTO_CGROUP); -1 when the child must be attached by pid.
  int clone_fd() const;
  // Moves `pid` (a process we started, not yet running jailed code) into every cgroup.
  Status attach(pid_t pid);
  // Whole-jail CPU time so far (user + system), for the cpu_time limit.
  std::optional<double> cpu_ms() const;
  Usage usage() const;
  // cgroup.kill, or SIGKILL every pid listed until none is left.
  Status kill_all();

 private:
  JailCgroup() = default;
  struct State;
  State* state_ = nullptr;
};

// Removes empty agentjail cgroups left by runs that were SIGKILLed (their owner pid is gone).
void remove_stale(const host::Host& host);

}  // namespace aj::cgroup
