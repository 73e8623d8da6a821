// Named syscall sets ("@default", "@file-system", "@network", ...) used in [seccomp] allow/deny.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aj::seccomp {

struct SyscallSet {
  std::string_view name;         // "@default"
  std::string_view description;  // one line, for `agentjail seccomp --sets` and the man page
  std::span<const std::string_view> members;  // syscall names and other "@sets"
};

// Every set, in the order they are documented.
std::span<const SyscallSet> sets();
const SyscallSet* find_set(std::string_view name);
// Names of every set, for "did you mean" hints.
std::vector<std::string> set_names();
// A set's members with nested sets expanded, duplicates removed.
std::vector<std::string> expand(std::string_view set_name);

}  // namespace aj::seccomp
