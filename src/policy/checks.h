// Value checks shared by the TOML decoder, the model validator and the command-line overrides,
// so a value is judged (and explained) the same way wherever it comes from. Each check returns
// the problem as text ("must be an absolute path"), or nothing when the value is fine.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aj::policy {

using Problem = std::optional<std::string>;

// An absolute path without NUL bytes (cwd, bind sources, audit_log).
Problem check_absolute(std::string_view path);
// A mount target: absolute, no "." or ".." components, not "/" itself, no NUL.
Problem check_target(std::string_view path);
// "//usr///lib/" -> "/usr/lib": the form targets are compared and stored in.
std::string normalize_target(std::string_view path);
// An RFC 1123 host name of at most 64 characters (the kernel's limit).
Problem check_hostname(std::string_view name);
// An environment variable name: non-empty, no '=' and no NUL.
Problem check_env_name(std::string_view name);
// An environment variable value: no NUL (execve could not pass it).
Problem check_env_value(std::string_view value);

// "EPERM" (or an alias such as "EWOULDBLOCK") -> its number; nothing for unknown names.
std::optional<int> errno_from_name(std::string_view name);
// 1 -> "EPERM"; nothing for numbers without a name.
std::optional<std::string> errno_name(int value);
// Every errno name this libc knows, for "did you mean" hints.
std::span<const std::string> errno_names();

// "cap_chown", "CHOWN", "Chown" -> "CHOWN"; nothing when libcap does not know the name.
std::optional<std::string> capability_name(std::string_view text);
// True for the capabilities a jail may keep (inside its user namespace only).
bool capability_is_safe(std::string_view normalized);
// The safe list, upper case without "CAP_", for messages.
std::span<const std::string> safe_capabilities();
// Every capability libcap knows, normalized, for "did you mean" hints.
std::span<const std::string> capability_names();

// True when `entry` of seccomp allow/deny is a known system call or "@set".
Problem check_syscall_entry(std::string_view entry, std::string& hint);
// System call names of the native architecture, for "did you mean" hints.
std::span<const std::string> native_syscall_names();

// `did you mean "x"?` when one of `candidates` is close to `word`, else "".
std::string did_you_mean(std::string_view word, std::span<const std::string> candidates);

}  // namespace aj::policy
