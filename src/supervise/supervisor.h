// The supervisor: one poll() loop over everything the run can produce, until the jail is
// gone and every stream is drained.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cgroup/cgroup.h"
#include "jail/spawn.h"
#include "net/broker.h"
#include "plan/plan.h"
#include "seccomp/violation.h"
#include "supervise/capture.h"
#include "supervise/outcome.h"
#include "supervise/relay.h"
#include "sys/process.h"

namespace aj::supervise {

struct Inputs {
  const plan::Plan& plan;
  jail::Jail& jail;
  cgroup::JailCgroup* cgroup = nullptr;         // null without cgroup enforcement
  int signal_fd = -1;                           // signalfd of SIGINT, SIGTERM, SIGHUP, SIGQUIT
  std::optional<BoundedCapture>* stdout_capture = nullptr;  // --json only
  std::optional<BoundedCapture>* stderr_capture = nullptr;
  double started_ms = 0;                        // monotonic, when the jail was cloned
  // Standard streams relayed for a jail that could not reopen the caller's (plan/stdio.h).
  // The jail's output is passed on until its pipe ends (bounded by the wall limit); its stdin
  // stops with the jail.
  std::vector<Relay>* relays = nullptr;
  net::Broker* broker = nullptr;                // network.mode = "allowlist": gets the init's listeners
};

struct Supervised {
  Observed observed;
  sys::WaitResult init_wait;  // rusage of the whole jail (every process pid 1 reaped)
  double wall_ms = 0;
  std::vector<seccomp::Violation> violations;
  uint64_t violations_dropped = 0;
  bool notifications_throttled = false;  // refused calls came faster than the listener answers them
  std::vector<std::string> warnings;     // what the supervisor could not enforce during the run
  std::optional<net::Summary> network;   // with a broker: its connections and refusals, all finished
};

// Refused calls cost the supervisor, outside the jail's cgroup, some 20 times what they cost
// the jail: past a burst, they are answered at a bounded rate and the callers wait (blocked in
// the refused call, using no CPU). Legitimate programs make a handful; a loop of them slows.
constexpr uint64_t kNotifyBurst = 1000;       // answered as fast as they come
constexpr uint64_t kNotifyPerRefill = 100;    // then this many ...
constexpr int kNotifyRefillMs = 10;           // ... every this many ms: 10,000 per second

// Runs until pid 1 of the jail has exited and every stream is at EOF. Enforces wall_time
// and the whole-jail cpu_time; answers seccomp notifications; logs steps with -v.
Supervised run(Inputs& inputs);

}  // namespace aj::supervise
