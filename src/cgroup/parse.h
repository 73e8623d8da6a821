// The text formats of cgroupfs files and of our directory names; pure, for tests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plan/plan.h"

namespace aj::cgroup {

// "key value" lines (cpu.stat, memory.events, pids.events, memory.oom_control, cpuacct.stat);
// lines whose value is not an unsigned number are skipped.
std::map<std::string, uint64_t> parse_keyed(std::string_view text);
// A single number (memory.peak, pids.peak, cpuacct.usage); nullopt for "max" or garbage.
std::optional<uint64_t> parse_number(std::string_view text);
// One pid per line (cgroup.procs).
std::vector<pid_t> parse_pids(std::string_view text);

// "agentjail-<pid>-<random>", the jail's directory name; `random` is hex.
std::string jail_name(pid_t owner, std::string_view random);
// The leaf agentjail moves itself into: jail_name(...) + "-self".
std::string self_leaf_name(const std::string& jail);
// The owner pid of one of our directory names, or nullopt for any other name.
std::optional<pid_t> owner_of(std::string_view name);

// cgroup v2's cpu.max for a quota: "<quota> <period>".
std::string cpu_max(const plan::CpuQuota& quota);

}  // namespace aj::cgroup
