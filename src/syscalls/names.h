// Naming a trapped system call for the report: its name on the architecture it came from and
// how many arguments it takes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aj::syscalls {

// "socket" for a native call; "i386:socketcall" and "x32:socket" for the foreign ABIs the
// filter refuses; "unknown" when libseccomp has no name for the number.
std::string syscall_name(uint32_t audit_arch, int nr);

// How many arguments the call `name` (as syscall_name() returns it) takes, when known.
std::optional<int> syscall_arg_count(std::string_view name);

}  // namespace aj::syscalls
