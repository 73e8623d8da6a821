// Whole-file reads and writes with errors that name the path.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace aj::sys {

// Reads a whole (small) file, e.g. under /proc or /sys.
Result<std::string> read_file(const std::string& path);
// Reads a file relative to a directory fd.
Result<std::string> read_file_at(int dirfd, const std::string& name);
// Opens an existing file O_WRONLY|O_CLOEXEC and writes `content` in one write(2),
// as control files (uid_map, cgroup knobs) require.
Status write_file(const std::string& path, std::string_view content);
Status write_file_at(int dirfd, const std::string& name, std::string_view content);
// Writes all of `data` to fd, retrying short writes and EINTR.
Status write_all(int fd, std::string_view data);

}  // namespace aj::sys
