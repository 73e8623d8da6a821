// Pure parsers for the /proc files the host probe reads, so tests can feed them strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aj::host {

// One line of /proc/self/cgroup: "4:memory:/a/b", "2:cpu,cpuacct:/", "0::/user.slice".
struct ProcCgroupLine {
  int hierarchy = 0;                     // 0 is the cgroup v2 hierarchy
  std::vector<std::string> controllers;  // empty for v2; "name=systemd" kept as is
  std::string path;                      // relative to the hierarchy (or our cgroup namespace) root
};
// Every well-formed line; malformed lines are skipped.
std::vector<ProcCgroupLine> parse_proc_cgroup(std::string_view text);

// A cgroup filesystem from /proc/self/mountinfo.
struct CgroupMount {
  bool v2 = false;                       // cgroup2 (else cgroup v1)
  std::string mount_point;               // where it is mounted, octal escapes decoded
  std::string root;                      // the hierarchy path mounted there ("/" normally)
  std::vector<std::string> options;      // super options: v1 controllers appear here ("memory", "cpu")
};
// Every cgroup and cgroup2 mount, in mount order.
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);

// The directory of cgroup `path` under a mount whose root is `root`; empty when the
// cgroup is not below what is mounted there (e.g. a mount made outside our cgroup namespace).
std::optional<std::string> cgroup_dir(const std::string& mount_point, const std::string& root, const std::string& path);

// "6.18.44-fc-v595" -> {6, 18}; {0, 0} when it does not start with two numbers.
std::pair<int, int> parse_kernel_version(std::string_view release);

// SwapTotal of /proc/meminfo in bytes (0 when missing).
uint64_t parse_swap_total(std::string_view meminfo);

// The whitespace-separated words of a file such as cgroup.controllers.
std::vector<std::string> words(std::string_view text);

}  // namespace aj::host
