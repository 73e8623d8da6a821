// Named syscall sets ("@default", "@file-system", "@network", ...) used in [seccomp] allow/deny,
// and the calls the filter treats specially whatever the policy says (always refused, refused
// with some arguments, always allowed). `agentjail seccomp --sets` prints all of it.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aj::syscalls {

struct SyscallSet {
  std::string_view name;         // "@default"
  std::string_view description;  // one line, for `agentjail seccomp --sets` and the man page
  std::span<const std::string_view> members;  // syscall names and other "@sets"
};

// Every set, in the order they are documented.
std::span<const SyscallSet> sets();
// The set called `name` ("@network"), or null.
const SyscallSet* find_set(std::string_view name);
// Names of every set, for "did you mean" hints.
std::vector<std::string> set_names();
// A set's members with nested sets expanded, duplicates removed, sorted.
std::vector<std::string> expand(std::string_view set_name);

// True when libseccomp knows `name` as a system call on some architecture (policy validation).
bool is_syscall_name(std::string_view name);

// A call the filter treats the same way whatever [seccomp] allow says.
struct SpecialCall {
  std::string_view name;
  std::string_view why;  // one line, for --sets and the docs
};
// Refused outright, even when the policy allows them by name.
std::span<const SpecialCall> always_denied();
// Allowed only with harmless arguments: clone, ioctl, personality, seccomp, socket, socketpair, and
// the calls that set a file mode (never a setuid or setgid bit).
std::span<const SpecialCall> argument_checked();
// Allowed whatever the policy says: the jail needs them to start the command.
std::span<const SpecialCall> always_allowed();
// Answered with ENOSYS, never recorded: clone3 (libc falls back to clone, which is checked).
std::span<const SpecialCall> enosys();

}  // namespace aj::syscalls
