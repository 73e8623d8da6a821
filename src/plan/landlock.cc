#include "plan/landlock.h"

#include <fmt/format.h>

#include <algorithm>

#include "sys/landlock.h"

namespace aj::plan {
namespace {

namespace ll = sys::landlock;

struct Right {
  const char* name;
  int abi;                  // the first ABI that has it
  const char* without_it;   // what a run on an older ABI loses (abi > 1 only)
};

// In the kernel's order; ABI 1's rights arrive together, so they need no sentence of their own.
constexpr Right kRights[] = {
    {"execute", 1, ""},     {"write_file", 1, ""}, {"read_file", 1, ""},   {"read_dir", 1, ""},
    {"remove_dir", 1, ""},  {"remove_file", 1, ""}, {"make_char", 1, ""}, {"make_dir", 1, ""},
    {"make_reg", 1, ""},    {"make_sock", 1, ""},  {"make_fifo", 1, ""},   {"make_block", 1, ""},
    {"make_sym", 1, ""},
    {"refer", 2,
     "a file cannot be renamed or linked into another directory (EXDEV): Landlock ABI 1 refuses every such "
     "rename"},
    {"truncate", 3, "truncate(2) and O_TRUNC are fenced by the mounts and the file modes alone"},
    {"ioctl_dev", 5, "ioctl(2) on the jail's devices is fenced by the seccomp filter alone"},
    {"abstract_unix_socket", 6,
     "abstract unix sockets outside the jail are reachable where it shares their network namespace "
     "(network.mode = \"host\")"},
    {"signal", 6, "signals to processes outside the jail are fenced by the pid namespace alone"},
};

// Read-only: read and (where the mount allows it) execute. Writable: also write, create and
// remove, except device nodes. Device ioctls only where the mount has devices at all.
uint64_t rights_for(bool read_only, bool noexec, bool nodev) {
  uint64_t rights = ll::kReadFile | ll::kReadDir;
  if (!noexec) rights |= ll::kExecute;
  if (!read_only)
    rights |= ll::kWriteFile | ll::kRemoveDir | ll::kRemoveFile | ll::kMakeDir | ll::kMakeReg | ll::kMakeSock |
              ll::kMakeFifo | ll::kMakeSym | ll::kRefer | ll::kTruncate;
  if (!nodev) rights |= ll::kIoctlDev;
  return rights;  // never kMakeChar or kMakeBlock
}

struct Tree {
  std::string path;
  bool read_only, noexec, nodev, optional;
  std::string origin;
};

// One tree per mount point of the finished root, as the command will find it there.
std::vector<Tree> trees_of(const std::vector<MountOp>& mounts) {
  std::vector<Tree> trees;
  auto find = [&](const std::string& path) {
    return std::find_if(trees.begin(), trees.end(), [&](const Tree& tree) { return tree.path == path; });
  };
  for (const auto& op : mounts) {
    switch (op.kind) {
      case MountKind::symlink:  // a link, not a tree: whatever it points at has rules of its own
      case MountKind::mask:     // hides part of a mount; a rule could only add rights to it
        continue;
      case MountKind::read_only:
        // Remounting a mount point read-only (/dev once populated) makes that mount read-only.
        // Below some other mount point a rule would only add rights: Landlock rules grant, the
        // rights of a tree are those of its every ancestor's rules together.
        if (auto it = find(op.target); it != trees.end()) it->read_only = true;
        continue;
      default: break;
    }
    Tree tree{op.target, op.read_only, op.noexec, op.nodev, op.optional,
              op.origin.empty() ? op.target : op.origin};
    // A later mount at the same point covers the earlier one: its rights are the ones seen.
    if (auto it = find(op.target); it != trees.end()) *it = std::move(tree);
    else trees.push_back(std::move(tree));
  }
  return trees;
}

std::string abi_phrase(const LandlockPlan& plan, const host::Host& host) {
  if (host.landlock_abi_cap >= 0 && host.landlock_abi_cap < std::min(plan.abi_kernel, kLandlockNewestAbi))
    return fmt::format("this run uses ABI {}, capped by --landlock-max-abi", plan.abi);
  return fmt::format("this kernel has ABI {}", plan.abi_kernel);
}

}  // namespace

std::vector<std::string> landlock_right_names() {
  std::vector<std::string> names;
  for (const Right& right : kRights) names.emplace_back(right.name);
  return names;
}

Result<LandlockPlan> decide_landlock(policy::LandlockMode mode, const std::vector<MountOp>& mounts,
                                     const host::Host& host, std::vector<std::string>& warnings) {
  LandlockPlan plan;
  if (mode == policy::LandlockMode::off) return plan;
  plan.enabled = true;
  plan.abi_kernel = host.landlock_abi;
  plan.abi = std::min(host.landlock_abi, kLandlockNewestAbi);
  if (host.landlock_abi_cap >= 0) plan.abi = std::min(plan.abi, host.landlock_abi_cap);

  if (plan.abi == 0) {
    const std::string why = host.landlock_abi == 0
                                ? "this kernel has no Landlock (Linux 5.13 or later has it, with \"landlock\" in "
                                  "the lsm= boot parameter)"
                                : "--landlock-max-abi 0 allows none of this kernel's Landlock";
    if (mode == policy::LandlockMode::required)
      return fail(EOPNOTSUPP, "landlock = \"required\": " + why);
    plan.not_enforced = landlock_right_names();
    warnings.push_back("landlock: not enforced, " + why + ": the mounts alone fence the filesystem");
    return plan;
  }

  plan.handled_fs = ll::fs_rights_of_abi(plan.abi);
  plan.scoped = ll::scopes_of_abi(plan.abi);
  // Outside every mount, yet the command already holds them: /dev/stdout must keep working.
  plan.reopen_stdio = true;
  // The root itself: its directories can be listed (the mount points in it), nothing more.
  plan.rules.push_back({.path = "/", .allowed = ll::kReadDir, .origin = "the jail's root"});
  for (const Tree& tree : trees_of(mounts)) {
    uint64_t allowed = rights_for(tree.read_only, tree.noexec, tree.nodev) & plan.handled_fs;
    plan.rules.push_back({.path = tree.path, .allowed = allowed, .optional = tree.optional, .origin = tree.origin});
  }

  for (const Right& right : kRights) {
    if (right.abi <= plan.abi) continue;
    plan.not_enforced.emplace_back(right.name);
    warnings.push_back(fmt::format("landlock: {} not enforced (needs Landlock ABI {}; {}): {}", right.name, right.abi,
                                   abi_phrase(plan, host), right.without_it));
  }
  return plan;
}

}  // namespace aj::plan
