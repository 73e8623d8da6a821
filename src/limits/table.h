// Every limit of [limits], one row each: its TOML key, its aj::Limits member, the kind of value
// it takes and its bounds, its `agentjail run` option, its name in `check --json`, and what
// enforces it. The decoder, the validator, the emitters, the command-line
// overrides and `agentjail doctor` all read this table; a new limit is a row here, a member in
// limits.h and its enforcement (man/agentjail-policy.5.scd and DEVELOPERS.md say the rest).
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "limits/limits.h"

namespace aj::limits {

enum class Kind {
  size,      // bytes: an integer or "64MiB"
  duration,  // milliseconds: seconds as a number, or "500ms", "10s"
  count,     // a whole number of things (processes, open files)
  cpus,      // CPUs of bandwidth, a fraction: 0.5 is half of one CPU
};

// What enforces a limit; `Row::rlimit` is the resource named below where there is one.
enum class Enforcement {
  supervisor_timer,  // the supervisor's timer kills the whole jail at expiry (wall_time)
  cgroup_usage,      // the jail cgroup's CPU usage, polled by the supervisor; `rlimit` (RLIMIT_CPU,
                     // in whole seconds) per process as a backstop, and alone without a cgroup
  cgroup_or_rlimit,  // the jail's cgroup; without the controller, `rlimit` per process instead
  cgroup_only,       // the jail's cgroup, or nothing (with a warning)
  rlimit,            // `rlimit` on every process of the jail, whatever the host
  capture,           // the supervisor's capture of the command's output; nothing in the jail
};

// A limit's value in its kind's unit (bytes, milliseconds, a count, CPUs): whole numbers for all
// but cpus. std::nullopt is "unlimited".
using Number = std::variant<uint64_t, double>;
using Value = std::optional<Number>;

// The aj::Limits member of a row; its type says whether "unlimited" can be stored.
using Member = std::variant<std::optional<uint64_t> Limits::*, std::optional<double> Limits::*, uint64_t Limits::*>;

struct Row {
  std::string_view key;              // in [limits]: "memory"
  Member member;                     // &Limits::memory_bytes
  Kind kind;
  Number min, max;                   // inclusive, in the kind's unit; uint64_t except for cpus
  bool unlimited;                    // "unlimited" is accepted
  std::string_view json_key;         // in `check --json`: the key with its unit, "memory_bytes"
  std::string_view option = {};      // the `agentjail run` option that overrides it; empty: none
  std::string_view counted = {};     // count: what is counted, for messages ("processes")
  Enforcement enforcement;
  int rlimit = -1;                   // RLIMIT_* (see Enforcement); -1: none
  const char* rlimit_name = "";      // "RLIMIT_FSIZE"; "" when rlimit is -1
};

inline constexpr uint64_t kMaxPids = 4194304;  // PID_MAX_LIMIT on 64-bit kernels
inline constexpr uint64_t kNoMax = UINT64_MAX;
inline constexpr uint64_t kMiB = 1ull << 20;

// In the order `agentjail check` prints them.
inline constexpr std::array kTable = {
    Row{.key = "wall_time", .member = &Limits::wall_time_ms, .kind = Kind::duration,
        .min = uint64_t{1}, .max = kNoMax, .unlimited = true,
        .json_key = "wall_time_ms", .option = "--time",
        .enforcement = Enforcement::supervisor_timer},
    Row{.key = "cpu_time", .member = &Limits::cpu_time_ms, .kind = Kind::duration,
        .min = uint64_t{1}, .max = kNoMax, .unlimited = true,
        .json_key = "cpu_time_ms", .option = "--cpu-time",
        .enforcement = Enforcement::cgroup_usage, .rlimit = RLIMIT_CPU, .rlimit_name = "RLIMIT_CPU"},
    // Below 1 MiB nothing starts (the dynamic loader alone needs more); a bare 512 is bytes,
    // and almost always meant as "512MiB".
    Row{.key = "memory", .member = &Limits::memory_bytes, .kind = Kind::size,
        .min = kMiB, .max = kNoMax, .unlimited = true,
        .json_key = "memory_bytes", .option = "--memory",
        .enforcement = Enforcement::cgroup_or_rlimit, .rlimit = RLIMIT_AS, .rlimit_name = "RLIMIT_AS"},
    Row{.key = "pids", .member = &Limits::pids, .kind = Kind::count,
        .min = uint64_t{1}, .max = kMaxPids, .unlimited = true,
        .json_key = "pids", .option = "--pids", .counted = "processes",
        .enforcement = Enforcement::cgroup_or_rlimit, .rlimit = RLIMIT_NPROC, .rlimit_name = "RLIMIT_NPROC"},
    // cpu.max refuses quotas below 1 ms per 100 ms period.
    Row{.key = "cpus", .member = &Limits::cpus, .kind = Kind::cpus,
        .min = 0.01, .max = 1024.0, .unlimited = true,
        .json_key = "cpus",
        .enforcement = Enforcement::cgroup_only},
    Row{.key = "file_size", .member = &Limits::file_size_bytes, .kind = Kind::size,
        .min = uint64_t{0}, .max = kNoMax, .unlimited = true,
        .json_key = "file_size_bytes",
        .enforcement = Enforcement::rlimit, .rlimit = RLIMIT_FSIZE, .rlimit_name = "RLIMIT_FSIZE"},
    Row{.key = "open_files", .member = &Limits::open_files, .kind = Kind::count,
        .min = uint64_t{1}, .max = uint64_t{1} << 30, .unlimited = true,
        .json_key = "open_files", .counted = "open files",
        .enforcement = Enforcement::rlimit, .rlimit = RLIMIT_NOFILE, .rlimit_name = "RLIMIT_NOFILE"},
    Row{.key = "stack", .member = &Limits::stack_bytes, .kind = Kind::size,
        .min = uint64_t{1}, .max = kNoMax, .unlimited = true,
        .json_key = "stack_bytes",
        .enforcement = Enforcement::rlimit, .rlimit = RLIMIT_STACK, .rlimit_name = "RLIMIT_STACK"},
    Row{.key = "core_size", .member = &Limits::core_size_bytes, .kind = Kind::size,
        .min = uint64_t{0}, .max = kNoMax, .unlimited = false,
        .json_key = "core_size_bytes",
        .enforcement = Enforcement::rlimit, .rlimit = RLIMIT_CORE, .rlimit_name = "RLIMIT_CORE"},
    // Capture must stay bounded: "unlimited" output is what this limit exists to prevent.
    Row{.key = "output", .member = &Limits::output_bytes, .kind = Kind::size,
        .min = uint64_t{0}, .max = kNoMax, .unlimited = false,
        .json_key = "output_bytes",
        .enforcement = Enforcement::capture},
};

// What every row satisfies (checked below, at compile time): bounds of the kind's number type,
// "unlimited" only where the member can hold it, the JSON key with the kind's unit, a noun for
// every count, and an RLIMIT_* resource exactly where the enforcement uses one.
constexpr bool well_formed(const Row& row) {
  const bool fraction = row.kind == Kind::cpus;
  const bool bounds = std::holds_alternative<double>(row.min) == fraction &&
                      std::holds_alternative<double>(row.max) == fraction &&
                      (fraction ? std::get<double>(row.min) <= std::get<double>(row.max)
                                : std::get<uint64_t>(row.min) <= std::get<uint64_t>(row.max));
  const bool member = std::holds_alternative<std::optional<double> Limits::*>(row.member) == fraction &&
                      (!row.unlimited || !std::holds_alternative<uint64_t Limits::*>(row.member));
  const std::string_view unit = row.kind == Kind::size ? "_bytes" : row.kind == Kind::duration ? "_ms" : "";
  const bool json = row.json_key.size() == row.key.size() + unit.size() && row.json_key.starts_with(row.key) &&
                    row.json_key.ends_with(unit);
  const bool counted = row.counted.empty() == (row.kind != Kind::count);
  const bool uses_rlimit = row.enforcement == Enforcement::rlimit || row.enforcement == Enforcement::cgroup_or_rlimit ||
                           row.enforcement == Enforcement::cgroup_usage;
  const bool rlimit = uses_rlimit == (row.rlimit >= 0) && uses_rlimit == (row.rlimit_name[0] != '\0');
  const bool option = row.option.empty() || row.option.starts_with("--");
  return bounds && member && json && counted && rlimit && option;
}
static_assert(std::ranges::all_of(kTable, well_formed), "a row of kTable is inconsistent: see well_formed()");

// The row of [limits] key `key`, or null.
const Row* find(std::string_view key);
// The value of `row` in `limits`.
Value get(const Limits& limits, const Row& row);
// Stores `value` into `row`'s member: a whole number into a whole member, a fraction into cpus.
// "unlimited" (std::nullopt) leaves a member that cannot hold it unchanged and returns false.
bool set(Limits& limits, const Row& row, const Value& value);

}  // namespace aj::limits
