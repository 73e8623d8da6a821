#include "cgroup/parse.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "base/strings.h"

namespace aj::cgroup {
namespace {

constexpr std::string_view kPrefix = "agentjail-";

template <class T>
std::optional<T> whole_number(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

bool is_hex(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::map<std::string, uint64_t> parse_keyed(std::string_view text) {
  std::map<std::string, uint64_t> out;
  for (const auto& line : split(text, '\n')) {
    std::string_view rest = trim(line);
    size_t space = rest.find_first_of(" \t");
    if (space == std::string_view::npos) continue;
    auto value = whole_number<uint64_t>(trim(rest.substr(space + 1)));
    if (value) out[std::string(rest.substr(0, space))] = *value;
  }
  return out;
}

std::optional<uint64_t> parse_number(std::string_view text) { return whole_number<uint64_t>(trim(text)); }

std::vector<pid_t> parse_pids(std::string_view text) {
  std::vector<pid_t> out;
  for (const auto& line : split(text, '\n'))
    if (auto pid = whole_number<pid_t>(trim(line)); pid && *pid > 0) out.push_back(*pid);
  return out;
}

std::string jail_name(pid_t owner, std::string_view random) {
  return std::string(kPrefix) + std::to_string(owner) + "-" + std::string(random);
}

std::string self_leaf_name(const std::string& jail) { return jail + "-self"; }

std::optional<pid_t> owner_of(std::string_view name) {
  if (!starts_with(name, kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  size_t dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto pid = whole_number<pid_t>(name.substr(0, dash));
  if (!pid || *pid <= 0) return std::nullopt;
  std::string_view random = name.substr(dash + 1);
  if (random.ends_with("-self")) random.remove_suffix(5);
  if (!is_hex(random)) return std::nullopt;
  return pid;
}

std::string cpu_max(const plan::CpuQuota& quota) {
  return std::to_string(quota.quota_us) + " " + std::to_string(quota.period_us);
}

}  // namespace aj::cgroup
