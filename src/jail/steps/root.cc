// The new root: a fresh tmpfs, every mount of the plan placed in it with the new mount API
// (open_tree/fsopen + mount_setattr + move_mount), each target resolved inside the root.
#include <fcntl.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <string>

#include "jail/steps/steps.h"
#include "sys/files.h"
#include "sys/path.h"

namespace aj::jail::steps {
namespace {

using plan::MountKind;
using plan::MountOp;
using sys::UniqueFd;

uint64_t attrs_for(const MountOp& op) {
  uint64_t attrs = MOUNT_ATTR_NOSUID;
  if (op.nodev) attrs |= MOUNT_ATTR_NODEV;
  if (op.noexec) attrs |= MOUNT_ATTR_NOEXEC;
  if (op.read_only) attrs |= MOUNT_ATTR_RDONLY;
  return attrs;
}

Status set_attrs(int tree, uint64_t attrs, bool recursive) {
  mount_attr attr{};
  attr.attr_set = attrs;
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  if (::mount_setattr(tree, "", flags, &attr, sizeof attr) != 0) return fail_errno("mount_setattr");
  return {};
}

Status attach(int tree, int target) {
  if (::move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return fail_errno("move_mount");
  return {};
}

// Clones the tree at `source` (recursively: submounts come along), applies the flags to the
// whole clone, then attaches it at `target`.
Status bind_tree(int source, int target, uint64_t attrs) {
  UniqueFd tree(::open_tree(source, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE));
  if (!tree) return fail_errno("open_tree");
  if (auto ok = set_attrs(tree.get(), attrs, true); !ok) return ok;
  return attach(tree.get(), target);
}

using FsOptions = std::vector<std::pair<std::string, std::string>>;

// A new filesystem instance: fsopen, string options (an empty value is a flag), create,
// fsmount with `attrs`.
Result<UniqueFd> new_fs(const char* type, const FsOptions& options, uint64_t attrs) {
  UniqueFd fs(::fsopen(type, FSOPEN_CLOEXEC));
  if (!fs) return fail_errno(std::string("fsopen ") + type);
  for (const auto& [key, value] : options) {
    int rc = value.empty() ? ::fsconfig(fs.get(), FSCONFIG_SET_FLAG, key.c_str(), nullptr, 0)
                           : ::fsconfig(fs.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0);
    if (rc != 0) return fail_errno(std::string("fsconfig ") + type + " " + key + "=" + value);
  }
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return fail_errno(std::string("create ") + type);
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, static_cast<unsigned>(attrs)));
  if (!mnt) return fail_errno(std::string("fsmount ") + type);
  return mnt;
}

// Why a mount point could not be created, for the mount `index` whose target lies inside an
// earlier read-only mount, and what to do about it.
std::string read_only_hint(const std::vector<MountOp>& mounts, size_t index) {
  const std::string& target = mounts[index].target;
  std::string parent;
  for (size_t i = 0; i < index; ++i) {
    const std::string& t = mounts[i].target;
    bool encloses = t == "/" || (target.size() > t.size() && target.starts_with(t) && target[t.size()] == '/');
    if (encloses && t.size() >= parent.size()) parent = t;
  }
  if (parent.empty()) parent = "/";
  return target + " does not exist and cannot be created inside the read-only mount " + parent +
         ": choose a target that exists there, put it under a writable mount (a --tmpfs, /tmp), or mount a "
         "tmpfs at its parent first";
}

enum class Node { directory, file, none };

// Creates what `op` mounts onto (directory or empty file) if it is missing, and opens it.
// The last component is never followed: a symlink there would point the mount elsewhere.
Result<UniqueFd> mount_point(int root, const std::string& target, Node node) {
  auto [parent_path, name] = sys::split_parent(target);
  auto parent = sys::make_dirs_in_root(root, parent_path);
  if (!parent) return std::unexpected(parent.error());
  if (node == Node::directory) {
    if (::mkdirat(parent->get(), name.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("mkdir " + target);
  } else if (node == Node::file) {
    int fd = ::openat(parent->get(), name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0444);
    if (fd < 0 && errno != EEXIST && errno != EISDIR && errno != EROFS) return fail_errno("create " + target);
    if (fd >= 0) ::close(fd);
  }
  UniqueFd point(::openat(parent->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!point) return fail_errno("open " + target);
  struct stat st{};
  if (::fstat(point.get(), &st) != 0) return fail_errno("stat " + target);
  if (S_ISLNK(st.st_mode)) return fail(ELOOP, target + " is a symlink; refusing to mount through it");
  if (node == Node::directory && !S_ISDIR(st.st_mode)) return fail(ENOTDIR, target);
  if (node == Node::file && S_ISDIR(st.st_mode)) return fail(EISDIR, target);
  return point;
}

// Writes `content` to a new file in the scratch directory, for binding elsewhere.
Result<UniqueFd> scratch_file(int root, const std::string& scratch_dir, size_t index, const std::string& content,
                              uint32_t mode) {
  auto dir = sys::make_dirs_in_root(root, scratch_dir);
  if (!dir) return std::unexpected(dir.error());
  std::string name = "f" + std::to_string(index);
  UniqueFd fd(::openat(dir->get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return fail_errno("create scratch file");
  if (auto ok = sys::write_all(fd.get(), content); !ok) return std::unexpected(ok.error());
  if (::fchmod(fd.get(), mode) != 0) return fail_errno("chmod scratch file");
  UniqueFd path(::openat(dir->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!path) return fail_errno("open scratch file");
  return path;
}

Status remove_scratch(int root, const std::string& scratch_dir) {
  auto dir = sys::open_in_root(root, scratch_dir, O_RDONLY | O_DIRECTORY);
  if (!dir) return dir.error().code == ENOENT ? Status{} : Status(std::unexpected(dir.error()));
  for (size_t i = 0;; ++i) {
    std::string name = "f" + std::to_string(i);
    if (::unlinkat(dir->get(), name.c_str(), 0) != 0) {
      if (errno == ENOENT) break;
      return fail_errno("remove scratch file");
    }
  }
  auto root_dir = sys::open_in_root(root, "/", O_PATH | O_DIRECTORY);
  if (!root_dir) return std::unexpected(root_dir.error());
  if (::unlinkat(root_dir->get(), scratch_dir.c_str(), AT_REMOVEDIR) != 0) return fail_errno("remove scratch directory");
  return {};
}

struct Builder {
  ChildContext& ctx;
  int root;
  size_t scratch_files = 0;
  // The first mask of a directory (an empty read-only tmpfs) and of a file (an empty
  // read-only file); later masks are bind clones of them, cheaper than a new instance each.
  UniqueFd empty_dir, empty_file;

  Status bind(const MountOp& op, int source) {
    if (op.idmap_uid) {
      // The supervisor's detached idmapped tree (its flags set there): attached as it is.
      auto point = mount_point(root, op.target, Node::directory);
      if (!point) return std::unexpected(point.error());
      return attach(source, point->get());
    }
    struct stat st{};
    if (::fstat(source, &st) != 0) return fail_errno("stat " + op.source);
    auto point = mount_point(root, op.target, S_ISDIR(st.st_mode) ? Node::directory : Node::file);
    if (!point) return std::unexpected(point.error());
    return bind_tree(source, point->get(), attrs_for(op));
  }

  Status fresh(const MountOp& op, const char* type) {
    auto point = mount_point(root, op.target, Node::directory);
    if (!point) return std::unexpected(point.error());
    auto mnt = new_fs(type, op.fs_options, attrs_for(op));
    if (!mnt) return std::unexpected(mnt.error());
    return attach(mnt->get(), point->get());
  }

  Status symlink(const MountOp& op) {
    auto [parent_path, name] = sys::split_parent(op.target);
    auto parent = sys::make_dirs_in_root(root, parent_path);
    if (!parent) return std::unexpected(parent.error());
    if (::symlinkat(op.source.c_str(), parent->get(), name.c_str()) != 0) return fail_errno("symlink " + op.target);
    return {};
  }

  Status file(const MountOp& op) {
    auto content = scratch_file(root, ctx.plan.scratch_dir, scratch_files++, op.content, op.mode);
    if (!content) return std::unexpected(content.error());
    auto point = mount_point(root, op.target, Node::file);
    if (!point) return std::unexpected(point.error());
    return bind_tree(content->get(), point->get(), attrs_for(op) | MOUNT_ATTR_RDONLY);
  }

  // /dev/null would read as empty too, but needs a device-enabled mount; an empty read-only
  // file (or an empty read-only tmpfs for a directory) hides the original just as well.
  Status mask(const MountOp& op) {
    auto target = sys::open_in_root(root, op.target, O_PATH | O_NOFOLLOW);
    if (!target) return op.optional && target.error().code == ENOENT ? Status{} : Status(std::unexpected(target.error()));
    struct stat st{};
    if (::fstat(target->get(), &st) != 0) return fail_errno("stat " + op.target);
    const uint64_t attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (S_ISDIR(st.st_mode)) {
      if (empty_dir) return bind_tree(empty_dir.get(), target->get(), attrs);
      auto mnt = new_fs("tmpfs", op.fs_options, attrs);
      if (!mnt) return std::unexpected(mnt.error());
      if (auto ok = attach(mnt->get(), target->get()); !ok) return ok;
      empty_dir = std::move(*mnt);  // attached now, so open_tree may clone it
      return {};
    }
    if (!empty_file) {
      auto empty = scratch_file(root, ctx.plan.scratch_dir, scratch_files++, "", 0444);
      if (!empty) return std::unexpected(empty.error());
      empty_file = std::move(*empty);
    }
    return bind_tree(empty_file.get(), target->get(), attrs);
  }

  // The workspace's overlay: the mount at the target (its bind) is the lower layer; upper and
  // work are the supervisor's directories, named through /proc/self/fd (the host's procfs
  // until pivot_root), as overlayfs takes layers as paths.
  Status overlay(const MountOp& op, int upper, int work) {
    if (upper < 0 || work < 0) return fail(EINVAL, "the overlay's upper directory was not prepared");
    auto lower = sys::open_in_root(root, op.target, O_PATH | O_DIRECTORY | O_NOFOLLOW);
    if (!lower) return std::unexpected(lower.error());
    auto fd_path = [](int fd) { return "/proc/self/fd/" + std::to_string(fd); };
    FsOptions options = {{"lowerdir", fd_path(lower->get())},
                         {"upperdir", fd_path(upper)},
                         {"workdir", fd_path(work)}};
    options.insert(options.end(), op.fs_options.begin(), op.fs_options.end());
    auto mnt = new_fs("overlay", options, attrs_for(op));
    if (!mnt) {
      Error error = mnt.error();
      error.message += " (overlayfs in a user namespace needs Linux 5.11+ and an upper directory on a filesystem "
                       "with user xattrs; the workspace was not mounted, nothing of the host was written)";
      return std::unexpected(error);
    }
    return attach(mnt->get(), lower->get());
  }

  Status read_only(const MountOp& op) {
    auto target = sys::open_in_root(root, op.target, O_PATH | O_NOFOLLOW);
    if (!target) return op.optional && target.error().code == ENOENT ? Status{} : Status(std::unexpected(target.error()));
    auto mount_root = sys::is_mount_root(target->get());
    if (!mount_root) return std::unexpected(mount_root.error());
    // A mount of its own (e.g. /dev's tmpfs) is flipped in place, leaving its submounts alone;
    // a part of a mount (e.g. /proc/sys) is first bound onto itself.
    if (*mount_root) return set_attrs(target->get(), MOUNT_ATTR_RDONLY, false);
    return bind_tree(target->get(), target->get(), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  }

  Status run(const MountOp& op, int source, int work) {
    switch (op.kind) {
      case MountKind::overlay: return overlay(op, source, work);
      case MountKind::bind: return bind(op, source);
      case MountKind::tmpfs: return fresh(op, "tmpfs");
      case MountKind::proc: return fresh(op, "proc");
      case MountKind::devpts: return fresh(op, "devpts");
      case MountKind::symlink: return symlink(op);
      case MountKind::file: return file(op);
      case MountKind::mask: return mask(op);
      case MountKind::read_only: return read_only(op);
    }
    return fail(EINVAL, "unknown mount kind");
  }
};

const char* kind_name(MountKind kind) {
  switch (kind) {
    case MountKind::bind: return "bind";
    case MountKind::tmpfs: return "tmpfs";
    case MountKind::proc: return "proc";
    case MountKind::devpts: return "devpts";
    case MountKind::symlink: return "symlink";
    case MountKind::file: return "file";
    case MountKind::mask: return "mask";
    case MountKind::read_only: return "read-only";
    case MountKind::overlay: return "overlay";
  }
  return "?";
}

}  // namespace

Status build_root(ChildContext& ctx) {
  // The root itself: nosuid, nodev, and made read-only by pivot_root() once complete.
  auto root = new_fs("tmpfs", {{"mode", "755"}}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  if (!root) return std::unexpected(root.error().context("root tmpfs"));
  const std::string& staging = ctx.plan.staging_dir;
  if (::move_mount(root->get(), "", AT_FDCWD, staging.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return fail_errno("attach the new root at " + staging);
  ctx.root_fd = root->release();

  Builder builder{ctx, ctx.root_fd};
  const auto& mounts = ctx.plan.mounts;
  for (size_t i = 0; i < mounts.size(); ++i) {
    const MountOp& op = mounts[i];
    if (op.kind == MountKind::bind && ctx.source_fds[i] < 0) continue;  // optional and missing
    if (auto ok = builder.run(op, ctx.source_fds[i], ctx.work_fds[i]); !ok) {
      std::string what = std::string("mount ") + op.target + " (" + kind_name(op.kind) +
                         (op.source.empty() || op.kind == MountKind::symlink ? "" : " " + op.source) +
                         (op.origin.empty() ? "" : ", from " + op.origin) + ")";
      if (ok.error().code == EROFS) return fail(0, what + ": " + read_only_hint(mounts, i));
      return std::unexpected(ok.error().context(what));
    }
    for (int* fd : {&ctx.source_fds[i], &ctx.work_fds[i]})
      if (*fd >= 0) {
        ::close(*fd);
        *fd = -1;
      }
  }
  return remove_scratch(ctx.root_fd, ctx.plan.scratch_dir);
}

Status private_mounts(ChildContext&) {
  // Before any mount: nothing we do below may propagate back into the host's namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail_errno("make / private");
  return {};
}

// Whether the opened bind source lies on the host's procfs, sysfs, a devpts or the filesystem
// of the host's /dev: the plan refuses such paths by name, this catches a symlink leading there.
bool on_host_kernel_fs(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return false;
  if (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC || fs.f_type == DEVPTS_SUPER_MAGIC) return true;
  struct stat source {}, dev {}, root {};
  if (::fstat(fd, &source) != 0 || ::stat("/dev", &dev) != 0 || ::stat("/", &root) != 0) return false;
  return dev.st_dev != root.st_dev && source.st_dev == dev.st_dev;  // /dev is a mount of its own
}

Status open_sources(ChildContext& ctx) {
  // Opened with the caller's file access, before become_jail_user: a root caller may bind a
  // directory only root can reach. The fds are O_PATH: nothing is read through them.
  const auto& mounts = ctx.plan.mounts;
  ctx.source_fds.assign(mounts.size(), -1);
  ctx.work_fds.assign(mounts.size(), -1);
  for (size_t i = 0; i < mounts.size(); ++i) {
    if (mounts[i].kind == MountKind::overlay && i < ctx.prepared.size()) {
      // The supervisor's 0700 scratch directory: reachable with the caller's access only.
      const jail::PreparedMount& prepared = ctx.prepared[i];
      ctx.source_fds[i] = ::open(prepared.upper_path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      ctx.work_fds[i] = ::open(prepared.work_path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (ctx.source_fds[i] < 0 || ctx.work_fds[i] < 0) return fail_errno("open the overlay's upper and work directories");
      continue;
    }
    if (mounts[i].kind != MountKind::bind) continue;
    if (mounts[i].idmap_uid) {
      // Made by the supervisor from the source it opened (workspace/prepare.h).
      if (i >= ctx.prepared.size() || ctx.prepared[i].tree < 0)
        return fail(EINVAL, "the idmapped mount of " + mounts[i].source + " was not prepared");
      ctx.source_fds[i] = ctx.prepared[i].tree;
      continue;
    }
    int fd = ::open(mounts[i].source.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) {
      if (mounts[i].optional && (errno == ENOENT || errno == ENOTDIR)) continue;
      const std::string from = mounts[i].origin.empty() ? "" : " (from " + mounts[i].origin + ")";
      if (errno == ENOENT)
        return fail(0, "bind source " + mounts[i].source + from +
                           " does not exist: create it, or give the mount `optional = true` to skip it when missing");
      return fail_errno("bind source " + mounts[i].source + from);
    }
    if (mounts[i].nodev && !mounts[i].host_kernel_fs && on_host_kernel_fs(fd)) {
      ::close(fd);
      return fail(EINVAL, "bind source " + mounts[i].source +
                              ": refused: it leads to the host's /proc, /sys or /dev (see agentjail-policy(5))");
    }
    ctx.source_fds[i] = fd;
  }
  return {};
}

}  // namespace aj::jail::steps
