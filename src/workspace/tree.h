// Walking and removing directory trees a jail wrote, on the host side: every step is openat
// relative to a directory fd with O_NOFOLLOW, so a symlink the jail planted is never followed,
// and no walk recurses on the stack or holds more than a bounded number of descriptors.
#pragma once

#include <string>

#include "base/error.h"

namespace aj::workspace {

// How deep a walk that keeps a descriptor per level goes (listing, copying); below, it stops
// and says so.
constexpr size_t kMaxWalkDepth = 100;

// Removes `name` in directory `dirfd` and everything below it, at any depth (deep subtrees are
// moved up by rename first), making our own directories searchable as it goes. A missing
// `name` is no error.
Status remove_tree(int dirfd, const std::string& name);

}  // namespace aj::workspace
