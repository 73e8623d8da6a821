// The host side of a request's `files` and `collect`: one private scratch directory per run,
// holding a directory for each top-level directory the paths name, bound read-write at that
// place in the jail. Collected files are read back without following any symlink the jail made.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "serve/api.h"

namespace aj::serve {

// The top-level directories the request's files and collected paths live in (work for
// /work/a.py), or a 400 for a path directly under / or in a system directory.
ApiResult<std::vector<std::string>> scratch_tops(const RunRequest& request);

// Makes the scratch (under /tmp, mode 0700) with a directory per top and writes the files;
// when run by root, gives it all to `uid`:`gid`, the jail's host user. Returns its path and
// fills `binds` (top -> host directory). Removes what it made when it fails.
Result<std::string> make_scratch(const RunRequest& request, const std::vector<std::string>& tops, uint32_t uid,
                                 uint32_t gid, std::map<std::string, std::string>& binds);

// A file the jail may have written, `parts` below `base`, read without following a symlink
// anywhere on its path (one could point at a host file the server can read); nullopt unless it
// is a regular file of at most `max` bytes.
std::optional<std::string> read_inside(const std::string& base, const std::vector<std::string>& parts, size_t max);

// The collected files of a finished run, read from its scratch.
CollectedFiles collect_files(const RunRequest& request, const std::map<std::string, std::string>& binds, size_t max);

}  // namespace aj::serve
