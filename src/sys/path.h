// Path resolution that cannot leave a directory tree: every lookup inside the jail's new
// root goes through here, so a symlink in a bound host directory (or a /proc magic link)
// can never send a mount or a created file outside the root.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "sys/fd.h"

namespace aj::sys {

// openat2(root, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): "/", ".." and absolute
// symlinks are all taken relative to `root`.
Result<UniqueFd> open_in_root(int root, std::string_view path, int flags);

// Opens directory `path` under `root` (O_PATH), creating each missing component (0755).
Result<UniqueFd> make_dirs_in_root(int root, std::string_view path);

// Splits "/a/b/c" into "/a/b" and "c"; "/c" into "/" and "c".
std::pair<std::string, std::string> split_parent(std::string_view path);

// True when fd (O_PATH is fine) is the root of a mount.
Result<bool> is_mount_root(int fd);

}  // namespace aj::sys
