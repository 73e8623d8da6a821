// After an overlay run: what the jail changed, read from the overlay's upper directory
// against the (unchanged) source, and the changed files kept as plain files for the caller.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aj::workspace {

enum class ChangeKind { added, modified, deleted };
const char* to_string(ChangeKind kind);  // "added" | "modified" | "deleted"

struct Change {
  std::string path;   // relative to the workspace's target
  ChangeKind kind = ChangeKind::added;
  uint64_t bytes = 0; // the new file's size; 0 for a directory or a deletion
};

// At most this many changes are listed (changes_total counts them all), with paths of at most
// kMaxListedPath bytes; a walk visits at most kMaxWalkEntries names.
constexpr size_t kMaxListedChanges = 1000;
constexpr size_t kMaxListedPath = 4096;
constexpr uint64_t kMaxWalkEntries = 1000000;

struct Changes {
  std::vector<Change> list;
  uint64_t total = 0;
  std::vector<std::string> warnings;  // what was not listed or not kept, and why
};

// Walks `upper` (the overlay's upper directory, O_RDONLY) against the source directory
// `source` on the host: a whiteout is a deletion, an opaque directory hides the source's
// entries below it, a name the source lacks is added, any other file modified. With `keep` >=
// 0, added and modified regular files, symlinks (as links, never followed) and directories
// are copied there, without setuid, setgid or sticky bits; FIFOs, sockets and device nodes
// are listed but not kept. Nothing the jail planted is ever followed: every step is an
// openat with O_NOFOLLOW below a directory fd.
Changes collect(int upper, const std::string& source, int keep);

}  // namespace aj::workspace
