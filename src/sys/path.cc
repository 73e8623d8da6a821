#include "sys/path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/strings.h"

namespace aj::sys {

Result<UniqueFd> open_in_root(int root, std::string_view path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string p(path);
  while (true) {
    long fd = ::syscall(SYS_openat2, root, p.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    // EAGAIN: a concurrent rename raced the lookup; retrying is what the kernel asks for.
    if (errno == EINTR || errno == EAGAIN) continue;
    return fail_errno("open " + p);
  }
}

Result<UniqueFd> make_dirs_in_root(int root, std::string_view path) {
  std::string walked = "/";
  auto current = open_in_root(root, "/", O_PATH | O_DIRECTORY);
  if (!current) return current;
  for (const auto& component : split(path, '/')) {
    if (component.empty() || component == ".") continue;
    if (walked.size() > 1) walked += '/';
    walked += component;
    auto next = open_in_root(root, walked, O_PATH | O_DIRECTORY);
    if (!next && next.error().code == ENOENT) {
      if (::mkdirat(current->get(), component.c_str(), 0755) != 0 && errno != EEXIST)
        return fail_errno("mkdir " + walked);
      next = open_in_root(root, walked, O_PATH | O_DIRECTORY);
    }
    if (!next) return next;
    current = std::move(next);
  }
  return current;
}

std::pair<std::string, std::string> split_parent(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {".", std::string(path)};
  std::string_view parent = slash == 0 ? std::string_view("/") : path.substr(0, slash);
  return {std::string(parent), std::string(path.substr(slash + 1))};
}

Result<bool> is_mount_root(int fd) {
  struct statx stx{};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0) return fail_errno("statx");
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) return fail(ENOTSUP, "statx: no STATX_ATTR_MOUNT_ROOT");
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

}  // namespace aj::sys
