// The second fence: the plan's Landlock ruleset (plan/landlock.h derives it from the mounts).
#include <fcntl.h>
#include <sys/stat.h>

#include "jail/steps/steps.h"
#include "sys/landlock.h"
#include "sys/path.h"

namespace aj::jail::steps {

Status apply_landlock(ChildContext& ctx) {
  const plan::LandlockPlan& landlock = ctx.plan.landlock;
  if (landlock.abi == 0) return {};
  auto ruleset = sys::landlock::create_ruleset(landlock.handled_fs, landlock.scoped);
  if (!ruleset) return std::unexpected(ruleset.error());
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
    uint64_t allowed = S_ISDIR(st.st_mode) ? rule.allowed : rule.allowed & sys::landlock::kFileRights;
    if (auto added = sys::landlock::add_path_rule(ruleset->get(), tree->get(), allowed); !added)
      return std::unexpected(added.error().context(rule.path));
  }
  return sys::landlock::restrict_self(ruleset->get());
}

}  // namespace aj::jail::steps
