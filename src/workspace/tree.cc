#include "workspace/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "sys/fd.h"

namespace aj::workspace {
namespace {

using sys::UniqueFd;

struct Frame {
  UniqueFd fd;
  std::string name;                  // in the parent frame (or the top directory)
  std::vector<std::string> subdirs;  // still to remove
};

// Reads the names of `dir` (an fd we keep: the stream works on a duplicate).
Result<std::vector<std::string>> names_of(int dir) {
  int copy = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return fail_errno("dup");
  DIR* stream = ::fdopendir(copy);
  if (!stream) {
    ::close(copy);
    return fail_errno("fdopendir");
  }
  ::rewinddir(stream);
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(stream)) {
    std::string_view name(entry->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(stream);
  return names;
}

Result<UniqueFd> open_dir(int parent, const std::string& name) {
  UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd && (errno == EACCES)) {
    // A directory of ours the jail made unsearchable: give it back to us first.
    struct stat st {};
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
        st.st_uid == ::geteuid() && ::fchmodat(parent, name.c_str(), 0700, 0) == 0)
      fd.reset(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  }
  if (!fd) return fail_errno("open " + name);
  return fd;
}

}  // namespace

Status remove_tree(int dirfd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno("stat " + name);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return fail_errno("remove " + name);
    return {};
  }
  // Subtrees deeper than the frame stack are renamed to the top (`dirfd`) and removed from there.
  std::vector<std::string> pending = {name};
  size_t moved = 0;
  while (!pending.empty()) {
    std::vector<Frame> stack;
    std::string top = std::move(pending.back());
    pending.pop_back();
    auto fd = open_dir(dirfd, top);
    if (!fd) return std::unexpected(fd.error());
    stack.push_back({std::move(*fd), top, {}});
    bool listed = false;
    while (!stack.empty()) {
      Frame& frame = stack.back();
      if (!listed) {
        (void)::fchmod(frame.fd.get(), 0700);  // ours, being removed: make it writable (else a no-op error)
        auto names = names_of(frame.fd.get());
        if (!names) return std::unexpected(names.error());
        for (const auto& entry : *names) {
          struct stat est {};
          if (::fstatat(frame.fd.get(), entry.c_str(), &est, AT_SYMLINK_NOFOLLOW) != 0) continue;
          if (S_ISDIR(est.st_mode)) {
            frame.subdirs.push_back(entry);
          } else if (::unlinkat(frame.fd.get(), entry.c_str(), 0) != 0 && errno != ENOENT) {
            return fail_errno("remove " + entry);
          }
        }
        listed = true;
      }
      if (!frame.subdirs.empty()) {
        std::string sub = std::move(frame.subdirs.back());
        frame.subdirs.pop_back();
        if (stack.size() >= kMaxWalkDepth) {
          char fresh[64];
          std::snprintf(fresh, sizeof fresh, ".agentjail-deep-%zu", moved++);
          if (::renameat(frame.fd.get(), sub.c_str(), dirfd, fresh) != 0) return fail_errno("move up " + sub);
          pending.emplace_back(fresh);
          continue;
        }
        auto child = open_dir(frame.fd.get(), sub);
        if (!child) return std::unexpected(child.error());
        stack.push_back({std::move(*child), sub, {}});
        listed = false;
        continue;
      }
      std::string done = frame.name;
      stack.pop_back();
      int parent = stack.empty() ? dirfd : stack.back().fd.get();
      if (::unlinkat(parent, done.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) return fail_errno("remove " + done);
    }
  }
  return {};
}

}  // namespace aj::workspace
