// The second fence: the plan's Landlock ruleset (plan/landlock.h derives it from the mounts).
#include <fcntl.h>
#include <sys/stat.h>

#include "jail/steps/steps.h"
#include "sys/landlock.h"
#include "sys/path.h"

namespace aj::jail::steps {
namespace {

namespace ll = sys::landlock;

Status add_mount_rules(const plan::LandlockPlan& landlock, int ruleset) {
  sys::UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_errno("open /");
  for (const auto& rule : landlock.rules) {
    // A rule holds the inode it is given: resolved inside the root, no symlink at the end.
    auto tree = sys::open_in_root(root.get(), rule.path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (!tree && tree.error().code == ENOENT && rule.optional) continue;  // an optional bind left out
    if (!tree) return std::unexpected(tree.error().context(rule.origin));
    struct stat st{};
    if (::fstat(tree->get(), &st) != 0) return fail_errno("fstat " + rule.path);
    // A file takes only a file's rights (the kernel refuses a rule with others).
    uint64_t allowed = S_ISDIR(st.st_mode) ? rule.allowed : rule.allowed & ll::kFileRights;
    if (auto added = ll::add_path_rule(ruleset, tree->get(), allowed); !added)
      return std::unexpected(added.error().context(rule.path));
  }
  return {};
}

// What fd 0, 1 or 2 may be reopened for: what it was opened for. Only files and character
// devices (a pipe or socket is not reopened by path, and the kernel takes no rule on one).
uint64_t stdio_rights(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) return 0;
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return 0;
  const int mode = flags & O_ACCMODE;
  uint64_t rights = 0;
  if (mode == O_RDONLY || mode == O_RDWR) rights |= ll::kReadFile;
  // Writing includes truncating: ftruncate on the inherited descriptor could do it anyway.
  if (mode == O_WRONLY || mode == O_RDWR) rights |= ll::kWriteFile | ll::kTruncate;
  if (S_ISCHR(st.st_mode)) rights |= ll::kIoctlDev;  // a terminal's own ioctls, as on the fd it has
  return rights;
}

}  // namespace

Status apply_landlock(ChildContext& ctx) {
  const plan::LandlockPlan& landlock = ctx.plan.landlock;
  if (landlock.abi == 0) return {};
  auto ruleset = ll::create_ruleset(landlock.handled_fs, landlock.scoped);
  if (!ruleset) return std::unexpected(ruleset.error());
  if (auto added = add_mount_rules(landlock, ruleset->get()); !added) return added;
  if (landlock.reopen_stdio) {
    for (int fd = 0; fd <= 2; ++fd) {
      uint64_t allowed = stdio_rights(fd) & landlock.handled_fs;
      if (allowed == 0) continue;
      // EBADFD: a file of an internal mount (a memfd, say), which no path reaches anyway.
      if (auto added = ll::add_path_rule(ruleset->get(), fd, allowed); !added && added.error().code != EBADFD)
        return std::unexpected(added.error().context("fd " + std::to_string(fd)));
    }
  }
  return ll::restrict_self(ruleset->get());
}

}  // namespace aj::jail::steps
