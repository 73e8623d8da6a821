#include "host/procfs.h"

#include <charconv>

#include "base/strings.h"

namespace aj::host {
namespace {

std::optional<long long> to_number(std::string_view text) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      auto digits = text.substr(i + 1, 3);
      bool octal = true;
      for (char c : digits) octal = octal && c >= '0' && c <= '7';
      if (octal) {
        out += static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

std::vector<ProcCgroupLine> parse_proc_cgroup(std::string_view text) {
  std::vector<ProcCgroupLine> out;
  for (const auto& line : split(text, '\n')) {
    // The path may itself contain ':', so split on the first two only.
    size_t first = line.find(':');
    if (first == std::string::npos) continue;
    size_t second = line.find(':', first + 1);
    if (second == std::string::npos) continue;
    auto id = to_number(std::string_view(line).substr(0, first));
    std::string path = line.substr(second + 1);
    if (!id || *id < 0 || path.empty() || path[0] != '/') continue;
    ProcCgroupLine entry;
    entry.hierarchy = static_cast<int>(*id);
    std::string controllers = line.substr(first + 1, second - first - 1);
    if (!controllers.empty()) entry.controllers = split(controllers, ',');
    entry.path = std::move(path);
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo) {
  std::vector<CgroupMount> out;
  for (const auto& line : split(mountinfo, '\n')) {
    // "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS"
    auto fields = words(line);
    size_t dash = 0;
    for (size_t i = 6; i < fields.size(); ++i)
      if (fields[i] == "-") {
        dash = i;
        break;
      }
    if (dash == 0 || dash + 1 >= fields.size()) continue;
    const std::string& type = fields[dash + 1];
    if (type != "cgroup" && type != "cgroup2") continue;
    CgroupMount mount;
    mount.v2 = type == "cgroup2";
    mount.root = unescape(fields[3]);
    mount.mount_point = unescape(fields[4]);
    if (dash + 3 < fields.size()) mount.options = split(fields[dash + 3], ',');
    out.push_back(std::move(mount));
  }
  return out;
}

std::optional<std::string> cgroup_dir(const std::string& mount_point, const std::string& root, const std::string& path) {
  std::string relative;
  if (root == "/") {
    relative = path;
  } else if (path == root) {
    relative = "/";
  } else if (starts_with(path, root + "/")) {
    relative = path.substr(root.size());
  } else {
    return std::nullopt;
  }
  if (relative == "/") return mount_point;
  // A path component ".." would leave the mount: /proc shows such paths for cgroups outside
  // our cgroup namespace, and we never use them.
  for (const auto& part : split(relative, '/'))
    if (part == "..") return std::nullopt;
  return mount_point + relative;
}

std::pair<int, int> parse_kernel_version(std::string_view release) {
  auto parts = split(release, '.');
  if (parts.size() < 2) return {0, 0};
  auto leading = [](const std::string& text) {
    size_t n = 0;
    while (n < text.size() && text[n] >= '0' && text[n] <= '9') ++n;
    return to_number(std::string_view(text).substr(0, n));
  };
  auto major = leading(parts[0]), minor = leading(parts[1]);
  if (!major || !minor) return {0, 0};
  return {static_cast<int>(*major), static_cast<int>(*minor)};
}

uint64_t parse_swap_total(std::string_view meminfo) {
  for (const auto& line : split(meminfo, '\n')) {
    if (!starts_with(line, "SwapTotal:")) continue;
    auto fields = words(std::string_view(line).substr(10));
    if (fields.empty()) return 0;
    auto kib = to_number(fields[0]);
    return kib && *kib > 0 ? static_cast<uint64_t>(*kib) * 1024 : 0;
  }
  return 0;
}

}  // namespace aj::host
