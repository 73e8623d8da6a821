// The run report (schema 1, agentjail(1) THE REPORT): model, JSON, and the exit code it
// implies (EXIT STATUS).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "net/record.h"
#include "seccomp/violation.h"
#include "supervise/capture.h"
#include "supervise/outcome.h"
#include "workspace/changes.h"

namespace aj::report {

using supervise::RunStatus;
const char* to_string(RunStatus status);

// enforcement.landlock: the ABI of the kernel, the one the ruleset used (0: none), and the
// rights of agentjail's newest ABI this run could not enforce.
struct LandlockEnforcement {
  int abi_kernel = 0, abi_used = 0;
  std::vector<std::string> not_enforced;
};

// The run's workspace: changes, changes_total and kept only in overlay mode.
struct WorkspaceReport {
  std::string source, target, mode;
  std::optional<std::vector<workspace::Change>> changes;
  std::optional<uint64_t> changes_total;
  std::optional<std::string> kept;  // the keep_changes directory, once the changes are in it
};

struct Report {
  std::string id;
  std::string policy_name, policy_source, policy_sha256;
  std::vector<std::string> command;

  RunStatus status = RunStatus::setup_error;
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
  std::optional<LandlockEnforcement> landlock;  // null: landlock = "off" (the JSON says false)

  std::vector<seccomp::Violation> violations;
  uint64_t violations_dropped = 0;  // refusals past the cap, counted but not listed
  std::vector<std::string> warnings;
  std::optional<WorkspaceReport> workspace;  // null: no workspace

  std::optional<supervise::Capture> stdout_capture, stderr_capture;  // --json only
  // Not in the JSON: the warning (also in `warnings`) that the failed command named files of
  // the caller's directory the jail does not see, which `run` prints in pass-through mode.
  std::optional<std::string> unseen_cwd_args;
  std::optional<net::Summary> network;  // network.mode = "allowlist" only (JSON null otherwise)
};

// Every field present, null where it does not apply. Captured output is UTF-8
// with invalid bytes replaced by U+FFFD.
nlohmann::json to_json(const Report& report);
// The exit code of `agentjail run` for this report (agentjail(1), EXIT STATUS).
int exit_code(const Report& report);
// Bytes -> valid UTF-8, each invalid sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view bytes);
// A fresh run id (random, 32 hex digits) and "2026-11-22T10:00:00.000Z" for now.
std::string new_run_id();
std::string utc_timestamp_now();

}  // namespace aj::report
