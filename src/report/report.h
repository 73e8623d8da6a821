// The run report (SPEC §4, schema 1): model, JSON, and the exit code it implies (SPEC §5).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace aj::report {

enum class Status { ok, exit, signal, timeout, cpu_limit, memory_limit, pids_limit, seccomp, setup_error };
const char* to_string(Status status);

struct Violation {
  std::string syscall;
  int nr = 0;
  std::vector<uint64_t> args;
  int pid = 0;           // inside the jail
  std::string action;    // "errno" | "kill" | "log"
  uint64_t count = 1;    // refusals of this call by this pid folded into the entry (args: the first's)
};

// One captured stream in --json mode.
struct Capture {
  std::string kept;        // the first limits.output bytes, as produced
  uint64_t total = 0;      // bytes the command wrote in all
  bool truncated() const { return total > kept.size(); }
};

struct Report {
  std::string id;
  std::string policy_name, policy_source, policy_sha256;
  std::vector<std::string> command;

  Status status = Status::setup_error;
  std::optional<int> exit_code;
  std::optional<int> signal;  // number; the JSON has its name
  std::optional<std::string> error;

  std::string started_at;  // ISO 8601 UTC with milliseconds
  double wall_time_ms = 0;
  std::optional<double> cpu_user_ms, cpu_system_ms;
  std::optional<uint64_t> memory_peak_bytes;
  std::string memory_source;  // "cgroup-v2" | "cgroup-v1" | "rusage"
  std::optional<uint64_t> pids_peak;

  std::optional<uint64_t> limit_wall_time_ms, limit_cpu_time_ms, limit_memory_bytes, limit_pids;

  bool userns = false;
  std::string cgroup = "none";  // "v2" | "v1" | "none"
  bool seccomp = false;
  bool landlock = false;

  std::vector<Violation> violations;
  uint64_t violations_dropped = 0;  // refusals past the cap, counted but not listed
  std::vector<std::string> warnings;

  std::optional<Capture> stdout_capture, stderr_capture;  // --json only
};

// SPEC §4: every field present, null where it does not apply. Captured output is UTF-8
// with invalid bytes replaced by U+FFFD.
nlohmann::json to_json(const Report& report);
// The exit code of `agentjail run` for this report (SPEC §5).
int exit_code(const Report& report);
// "SIGKILL" for 9; "SIG42" for numbers without a name.
std::string signal_name(int signal);
// Bytes -> valid UTF-8, each invalid sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view bytes);
// A fresh run id (random, 32 hex digits) and "2026-11-22T10:00:00.000Z" for now.
std::string new_run_id();
std::string utc_timestamp_now();

}  // namespace aj::report
