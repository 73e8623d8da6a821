// Whole-file reads and writes with errors that name the path.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "sys/fd.h"

namespace aj::sys {

// Reads a whole (small) file, e.g. under /proc or /sys.
Result<std::string> read_file(const std::string& path);
// Reads a file relative to a directory fd.
Result<std::string> read_file_at(int dirfd, const std::string& name);
// Opens an existing file O_WRONLY|O_CLOEXEC and writes `content` in one write(2),
// as control files (uid_map, cgroup knobs) require.
Status write_file(const std::string& path, std::string_view content);
Status write_file_at(int dirfd, const std::string& name, std::string_view content);
// Opens `path` for writing as a file agentjail itself writes (the report, the audit log) when
// a jail may have written below it: no component may be a symlink or a /proc magic link
// (openat2 RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), O_NONBLOCK so that a FIFO fails at once
// instead of blocking, O_NOCTTY, and anything but a regular file with one link is refused.
// `flags` adds O_APPEND or O_TRUNC; the file is created with `mode` when missing.
Result<UniqueFd> open_output_file(const std::string& path, int flags, unsigned mode);
// Writes all of `data` to fd, retrying short writes and EINTR.
Status write_all(int fd, std::string_view data);

}  // namespace aj::sys
