// Landlock (Documentation/userspace-api/landlock.rst of the kernel) through raw system calls.
// glibc has no wrappers and the distribution's <linux/landlock.h> may predate the rights used
// here (bookworm's stops at ABI 2), so the kernel's ABI is restated below: these values are the
// kernel's, fixed forever by its uapi. Knows nothing of policies or mounts.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "sys/fd.h"

namespace aj::sys::landlock {

// Filesystem rights (LANDLOCK_ACCESS_FS_*), with the first ABI that knows each.
inline constexpr uint64_t kExecute = 1ull << 0;      // ABI 1
inline constexpr uint64_t kWriteFile = 1ull << 1;
inline constexpr uint64_t kReadFile = 1ull << 2;
inline constexpr uint64_t kReadDir = 1ull << 3;
inline constexpr uint64_t kRemoveDir = 1ull << 4;
inline constexpr uint64_t kRemoveFile = 1ull << 5;
inline constexpr uint64_t kMakeChar = 1ull << 6;
inline constexpr uint64_t kMakeDir = 1ull << 7;
inline constexpr uint64_t kMakeReg = 1ull << 8;
inline constexpr uint64_t kMakeSock = 1ull << 9;
inline constexpr uint64_t kMakeFifo = 1ull << 10;
inline constexpr uint64_t kMakeBlock = 1ull << 11;
inline constexpr uint64_t kMakeSym = 1ull << 12;
inline constexpr uint64_t kRefer = 1ull << 13;       // ABI 2
inline constexpr uint64_t kTruncate = 1ull << 14;    // ABI 3
inline constexpr uint64_t kIoctlDev = 1ull << 15;    // ABI 5

// The rights a rule on a file (not a directory) may carry; any other is EINVAL there.
inline constexpr uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;

// Scopes (LANDLOCK_SCOPE_*, ABI 6): IPC the domain may not aim outside itself.
inline constexpr uint64_t kScopeAbstractUnixSocket = 1ull << 0;
inline constexpr uint64_t kScopeSignal = 1ull << 1;

// Every filesystem right the kernel of `abi` handles (0 for abi < 1).
uint64_t fs_rights_of_abi(int abi);
// Every scope the kernel of `abi` handles.
uint64_t scopes_of_abi(int abi);

// The kernel's Landlock ABI version, 0 when Landlock is missing or disabled at boot.
int abi_version();

// landlock_create_ruleset with these handled rights (handled_access_net stays 0: no network
// rules; scoped is sent only when non-zero, so an ABI < 6 kernel gets the struct it knows).
Result<UniqueFd> create_ruleset(uint64_t handled_fs, uint64_t scoped);
// LANDLOCK_RULE_PATH_BENEATH: `allowed` for the file or directory tree `parent_fd` is.
Status add_path_rule(int ruleset_fd, int parent_fd, uint64_t allowed);
// landlock_restrict_self: the caller (and what it starts) is confined from now on. Needs
// no_new_privs, or CAP_SYS_ADMIN in the caller's user namespace.
Status restrict_self(int ruleset_fd);

}  // namespace aj::sys::landlock
