#include "policy/checks.h"

#include <seccomp.h>
#include <sys/capability.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "base/strings.h"
#include "syscalls/sets.h"

namespace aj::policy {
namespace {

bool has_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// Capabilities a jail may keep. Inside the jail's own user namespace they only reach files and
// processes the jail's root may already touch; everything else (SYS_ADMIN, NET_ADMIN, SYS_PTRACE,
// MKNOD, NET_RAW, ...) widens the kernel surface exposed to hostile code.
const std::vector<std::string> kSafeCapabilities = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "NET_BIND_SERVICE",
};

// glibc knows these names, but strerrorname_np() returns only one spelling per number.
constexpr std::pair<std::string_view, int> kErrnoAliases[] = {
    {"EWOULDBLOCK", EWOULDBLOCK}, {"EDEADLOCK", EDEADLOCK}, {"ENOTSUP", ENOTSUP}};

}  // namespace

Problem check_absolute(std::string_view path) {
  if (path.empty()) return "must not be empty";
  if (has_nul(path)) return "must not contain a NUL byte";
  if (path.front() != '/') return fmt::format("{} is not an absolute path", aj::quoted(path));
  return std::nullopt;
}

Problem check_target(std::string_view path) {
  if (auto problem = check_absolute(path)) return problem;
  const std::string normal = normalize_target(path);
  if (normal == "/") return fmt::format("{} is the jail's root, which cannot be a mount target", aj::quoted(path));
  // "." and ".." would let one target alias another (or climb above a bind), defeating the
  // duplicate check and the in-place replacement that extends relies on.
  for (const auto& component : split(std::string_view(normal).substr(1), '/'))
    if (component == "." || component == "..")
      return fmt::format("{} has a {} component; write the path without it", aj::quoted(path), aj::quoted(component));
  if (normal.size() > 4095) return "is longer than PATH_MAX";
  return std::nullopt;
}

std::string normalize_target(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out += c;
  }
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

Problem check_hostname(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 64) return "is longer than 64 characters, the kernel's limit";
  for (const auto& label : split(name, '.')) {
    if (label.empty()) return fmt::format("{} has an empty label", aj::quoted(name));
    if (label.size() > 63) return fmt::format("{} has a label longer than 63 characters", aj::quoted(name));
    if (label.front() == '-' || label.back() == '-')
      return fmt::format("{} has a label that starts or ends with '-'", aj::quoted(name));
    for (unsigned char c : label)
      if (!std::isalnum(c) && c != '-')
        return fmt::format("{} is not a valid host name (letters, digits, '-' and '.' only)", aj::quoted(name));
  }
  return std::nullopt;
}

Problem check_env_name(std::string_view name) {
  if (name.empty()) return "an environment variable name must not be empty";
  if (name.find('=') != std::string_view::npos)
    return fmt::format("{} is not a valid environment variable name: it contains '='", aj::quoted(name));
  if (has_nul(name)) return fmt::format("{} is not a valid environment variable name: it contains NUL", aj::quoted(name));
  return std::nullopt;
}

Problem check_env_value(std::string_view value) {
  if (has_nul(value)) return "an environment variable value must not contain a NUL byte";
  return std::nullopt;
}

std::optional<int> errno_from_name(std::string_view name) {
  for (const auto& [alias, value] : kErrnoAliases)
    if (alias == name) return value;
  for (int value = 1; value < 4096; ++value)
    if (const char* known = strerrorname_np(value); known && name == known) return value;
  return std::nullopt;
}

std::optional<std::string> errno_name(int value) {
  if (const char* known = strerrorname_np(value)) return std::string(known);
  return std::nullopt;
}

std::span<const std::string> errno_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (int value = 1; value < 4096; ++value)
      if (const char* known = strerrorname_np(value)) out.emplace_back(known);
    for (const auto& [alias, value] : kErrnoAliases) out.emplace_back(alias);
    return out;
  }();
  return names;
}

std::optional<std::string> capability_name(std::string_view text) {
  if (text.empty() || has_nul(text)) return std::nullopt;
  std::string name = lower(text);
  if (!name.starts_with("cap_")) name = "cap_" + name;
  cap_value_t value = 0;
  if (cap_from_name(name.c_str(), &value) != 0) return std::nullopt;
  // Normalize through libcap's own spelling, so aliases come out the same.
  std::unique_ptr<char, int (*)(void*)> canonical(cap_to_name(value), cap_free);
  if (!canonical) return std::nullopt;
  std::string out = canonical.get();
  if (out.starts_with("cap_")) out.erase(0, 4);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool capability_is_safe(std::string_view normalized) {
  for (const auto& safe : kSafeCapabilities)
    if (safe == normalized) return true;
  return false;
}

std::span<const std::string> safe_capabilities() { return kSafeCapabilities; }

std::span<const std::string> capability_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (cap_value_t value = 0; value <= CAP_LAST_CAP; ++value) {
      std::unique_ptr<char, int (*)(void*)> name(cap_to_name(value), cap_free);
      if (!name) continue;
      std::string text = name.get();
      if (!text.starts_with("cap_")) continue;  // libcap prints unnamed numbers as digits
      text.erase(0, 4);
      for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.push_back(std::move(text));
    }
    return out;
  }();
  return names;
}

Problem check_syscall_entry(std::string_view entry, std::string& hint) {
  hint.clear();
  if (entry.starts_with("@")) {
    if (syscalls::find_set(entry)) return std::nullopt;
    const auto names = syscalls::set_names();
    hint = did_you_mean(entry, names);
    return fmt::format("unknown syscall set {}", aj::quoted(entry));
  }
  if (!has_nul(entry) && syscalls::is_syscall_name(entry)) return std::nullopt;
  hint = did_you_mean(entry, native_syscall_names());
  return fmt::format("unknown system call {}", aj::quoted(entry));
}

std::span<const std::string> native_syscall_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    // Numbers on x86_64 and aarch64 stay below 500; libseccomp answers null for the gaps.
    for (int number = 0; number < 500; ++number) {
      char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
      if (!name) continue;
      out.emplace_back(name);
      std::free(name);
    }
    return out;
  }();
  return names;
}

std::string did_you_mean(std::string_view word, std::span<const std::string> candidates) {
  if (auto match = closest_match(word, candidates)) return fmt::format("did you mean {}?", aj::quoted(*match));
  return {};
}

}  // namespace aj::policy
