// Removing a directory tree that untrusted code wrote (a CI job's build directory).
#pragma once

#include <string>

#include "base/error.h"

namespace aj::sys {

// Removes directory `path` and everything below it without ever following a symlink: a
// symlink is removed, never what it points to, and no component below `path` is resolved
// through one. A directory its owner made unreadable (mode 0) is made 0700 first. Only for
// a tree no process writes to any more (the jail that wrote it has ended). Missing: not an
// error. `path` itself must not be a symlink.
Status remove_tree(const std::string& path);

}  // namespace aj::sys
