#include "sys/remove_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <optional>
#include <vector>

#include "sys/fd.h"
#include "sys/path.h"

namespace aj::sys {
namespace {

// Opens directory `name` below `dir` without following a symlink; a directory its owner locked
// (no search or read permission) is opened after a chmod 0700. Nothing runs in the tree any
// more (see the header), so the type checked by fstatat is still the type chmod sees.
Result<UniqueFd> open_subdir(int dir, const std::string& name) {
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(dir, name.c_str(), kFlags);
  if (fd < 0 && errno == EACCES) {
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
        ::fchmodat(dir, name.c_str(), 0700, 0) == 0)
      fd = ::openat(dir, name.c_str(), kFlags);
  }
  if (fd < 0) return fail_errno("open directory " + name);
  return UniqueFd(fd);
}

// The first entry of `dir` that is not "." or "..", with whether it is a directory; empty when
// there is none. Files met before it are removed on the way.
Result<std::optional<std::string>> next_subdir(int dir) {
  int copy = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return fail_errno("dup");
  DIR* stream = ::fdopendir(copy);
  if (stream == nullptr) {
    ::close(copy);
    return fail_errno("fdopendir");
  }
  ::rewinddir(stream);  // the copy shares the offset of an earlier scan of this directory
  std::optional<std::string> found;
  Status status;
  errno = 0;
  while (dirent* entry = ::readdir(stream)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {
      struct stat st {};
      if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        status = fail_errno("stat " + name);
        break;
      }
      is_dir = S_ISDIR(st.st_mode);
    }
    if (is_dir) {
      found = name;
      break;
    }
    if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) {
      status = fail_errno("remove " + name);
      break;
    }
    errno = 0;
  }
  ::closedir(stream);
  if (!status) return std::unexpected(status.error());
  return found;
}

}  // namespace

Status remove_tree(const std::string& path) {
  auto [parent_path, base] = split_parent(path);
  UniqueFd parent(::open(parent_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent) return fail_errno("remove " + path + ": open " + parent_path);
  struct stat st {};
  if (::fstatat(parent.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno("remove " + path + ": stat");
  }
  if (!S_ISDIR(st.st_mode)) return fail(ENOTDIR, "remove " + path + ": not a directory");

  // Depth first without recursion (a job can nest directories deeper than we have descriptors
  // or stack): one open directory at a time and the names that lead down to it.
  std::vector<std::string> names{base};
  std::vector<UniqueFd> open;  // open[i]: the directory names[i] is in; open[0] is `parent`
  open.push_back(std::move(parent));
  auto here = open_subdir(open.back().get(), base);
  if (!here) return std::unexpected(here.error().context("remove " + path));
  UniqueFd current = std::move(*here);
  while (true) {
    auto sub = next_subdir(current.get());
    if (!sub) return std::unexpected(sub.error().context("remove " + path));
    if (*sub) {
      auto child = open_subdir(current.get(), **sub);
      if (!child) return std::unexpected(child.error().context("remove " + path));
      names.push_back(**sub);
      open.push_back(std::move(current));
      current = std::move(*child);
      // Keep at most a few ancestors open; the rest are reopened through ".." on the way up.
      if (open.size() > 16) open[open.size() - 17].reset();
      continue;
    }
    // `current` is empty: remove it from its parent and go on there.
    current.reset();
    UniqueFd up = std::move(open.back());
    open.pop_back();
    if (!up) return fail(EIO, "remove " + path + ": lost the way back up");
    if (::unlinkat(up.get(), names.back().c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return fail_errno("remove " + path + ": remove directory " + names.back());
    names.pop_back();
    if (names.empty()) return {};
    if (!open.empty() && !open.back()) {
      // Its own parent was closed to save descriptors: reach it through "..", which no one can
      // have moved (nothing runs in the tree).
      int parent_fd = ::openat(up.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (parent_fd < 0) return fail_errno("remove " + path + ": open ..");
      open.back().reset(parent_fd);
    }
    current = std::move(up);
  }
}

}  // namespace aj::sys
