// What happened to the run, decided from what the supervisor observed. Pure.
#pragma once

#include <optional>
#include <string>

#include "plan/plan.h"

namespace aj::supervise {

// The run's status, as the report's "status" names it.
enum class RunStatus { ok, exit, signal, timeout, cpu_limit, memory_limit, pids_limit, seccomp, setup_error };

struct Observed {
  std::optional<std::string> setup_error;  // "step: message: errno text"
  std::optional<int> exec_failure;         // 126 or 127
  std::optional<std::string> exec_error;   // its message
  std::optional<int> command_status;       // wait status of the command, reported by pid 1
  bool command_started = false;            // the command child reported its execve
  std::optional<int> interrupted_by;       // a signal agentjail itself received
  bool timed_out = false;                  // wall_time reached
  bool cpu_exceeded = false;               // whole-jail cpu_time reached (cgroup)
  bool seccomp_kill = false;               // the filter's action was kill
  bool oom_killed = false;                 // the cgroup saw an OOM kill
  bool pids_max_hit = false;               // the cgroup refused a fork at pids.max
  std::optional<double> cpu_used_ms;       // user + system of the whole jail, when known
  std::optional<uint64_t> cpu_limit_ms;
  plan::FilterAction seccomp_action = plan::FilterAction::errno_;
  // The filter's refusals went to the listener: a kill is then always seccomp_kill, never a
  // bare SIGSYS (which is the command's own, e.g. kill -SYS $$).
  bool seccomp_notify = false;
};

struct Outcome {
  RunStatus status = RunStatus::setup_error;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::optional<std::string> error;
};

Outcome classify(const Observed& observed);

}  // namespace aj::supervise
