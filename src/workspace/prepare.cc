#include "workspace/prepare.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "sys/files.h"
#include "sys/process.h"
#include "workspace/tree.h"

namespace aj::workspace {
namespace {

using sys::UniqueFd;

std::string map_line(const plan::IdMap& map) {
  return std::to_string(map.inside) + " " + std::to_string(map.outside) + " " + std::to_string(map.count) + "\n";
}

// A user namespace whose only mapping is the idmap's, held by a child that sleeps until the
// owner kills it; the namespace lives on in the returned fd.
Result<UniqueFd> idmap_userns(const plan::IdMap& uid, const plan::IdMap& gid) {
  UniqueFd pidfd;
  auto pid = sys::clone3_fork(CLONE_NEWUSER, &pidfd, -1);
  if (!pid) return std::unexpected(pid.error().context("clone a user namespace for the idmap"));
  if (*pid == 0)
    for (;;) ::pause();
  sys::ScopedChild holder(*pid, std::move(pidfd));
  const std::string proc = "/proc/" + std::to_string(*pid) + "/";
  if (auto ok = sys::write_file(proc + "uid_map", map_line(uid)); !ok) return std::unexpected(ok.error());
  if (auto ok = sys::write_file(proc + "setgroups", "deny"); !ok) return std::unexpected(ok.error());
  if (auto ok = sys::write_file(proc + "gid_map", map_line(gid)); !ok) return std::unexpected(ok.error());
  UniqueFd ns(::open((proc + "ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return fail_errno("open " + proc + "ns/user");
  return ns;
}

// The workspace's bind as a detached idmapped mount, flags set: the jail attaches it as it is
// (a mount's idmap can only be set before it is attached, and only by the superblock's owner).
Result<UniqueFd> idmapped_tree(const plan::MountOp& op) {
  UniqueFd source(::open(op.source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!source) return fail_errno("open " + op.source);
  struct stat st {};
  if (::fstat(source.get(), &st) != 0) return fail_errno("stat " + op.source);
  if (st.st_uid != op.idmap_uid->inside || st.st_gid != op.idmap_gid->inside)
    return fail(EAGAIN, op.source + " changed owner while the jail was planned; run again");
  auto ns = idmap_userns(*op.idmap_uid, *op.idmap_gid);
  if (!ns) return std::unexpected(ns.error());
  // Not recursive: mounts below the workspace (rare in a checkout) stay out of the jail, as an
  // idmap cannot be set on a tree whose filesystems differ in whether they allow one.
  UniqueFd tree(::open_tree(source.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  if (!tree) return fail_errno("open_tree " + op.source);
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (op.read_only) attr.attr_set |= MOUNT_ATTR_RDONLY;
  if (op.noexec) attr.attr_set |= MOUNT_ATTR_NOEXEC;
  attr.userns_fd = static_cast<uint64_t>(ns->get());
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
    return fail_errno("idmapped mount of " + op.source + " (mount_setattr MOUNT_ATTR_IDMAP)");
  return tree;
}

Result<UniqueFd> open_dir_at(int dir, const char* name, int flags) {
  UniqueFd fd(::openat(dir, name, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return fail_errno(std::string("open ") + name);
  return fd;
}

// keep_changes: created when missing; an existing one must be an empty directory (the kept
// tree is the changes, nothing else), and is never reached through a symlink.
Result<UniqueFd> open_keep_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    return fail_errno("keep_changes " + path + (errno == ENOENT ? " (its parent directory does not exist)" : ""));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return fail_errno("keep_changes " + path + (errno == ELOOP || errno == ENOTDIR ? " (not a directory)" : ""));
  int copy = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
  DIR* stream = copy < 0 ? nullptr : ::fdopendir(copy);
  if (!stream) return fail_errno("read keep_changes " + path);
  bool empty = true;
  while (dirent* entry = ::readdir(stream)) {
    std::string_view name(entry->d_name);
    if (name != "." && name != "..") empty = false;
  }
  ::closedir(stream);
  if (!empty) return fail(0, "keep_changes " + path + " is not empty: give a new or empty directory");
  return fd;
}

}  // namespace

Prepared::~Prepared() {
  if (scratch_parent_ && !scratch_name_.empty()) (void)remove_tree(scratch_parent_.get(), scratch_name_);
}

Result<Prepared> prepare(const plan::Plan& plan) {
  Prepared out;
  if (!plan.workspace) return out;
  const plan::WorkspacePlan& ws = *plan.workspace;
  out.mounts_.assign(plan.mounts.size(), jail::PreparedMount{});
  auto context = [&](const Error& error) { return std::unexpected(error.context("workspace " + ws.source)); };

  if (!ws.keep_changes.empty()) {
    auto keep = open_keep_dir(ws.keep_changes);
    if (!keep) return std::unexpected(keep.error());
    out.keep_ = std::move(*keep);
  }

  const plan::MountOp& bind = plan.mounts.at(ws.bind_index);
  if (bind.idmap_uid && bind.idmap_gid) {
    auto tree = idmapped_tree(bind);
    if (!tree) return context(tree.error());
    out.mounts_[ws.bind_index].tree = tree->get();
    out.owned_.push_back(std::move(*tree));
  }

  if (ws.overlay_index) {
    // Upper and work: in a fresh 0700 directory of agentjail's, never inside the source.
    const char* tmp = std::getenv("TMPDIR");
    std::string parent = tmp && tmp[0] == '/' ? tmp : "/tmp";
    std::string path = parent + "/agentjail-overlay-XXXXXX";
    if (!::mkdtemp(path.data())) return fail_errno("workspace overlay: create a scratch directory in " + parent);
    UniqueFd parent_fd(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!parent_fd) {
      ::rmdir(path.c_str());
      return fail_errno("open " + parent);
    }
    out.scratch_parent_ = std::move(parent_fd);
    out.scratch_name_ = path.substr(parent.size() + 1);
    out.scratch_path_ = path;
    auto scratch = open_dir_at(out.scratch_parent_.get(), out.scratch_name_.c_str(), O_RDONLY);
    if (!scratch) return context(scratch.error());
    for (const char* name : {"upper", "work"}) {
      if (::mkdirat(scratch->get(), name, 0755) != 0) return fail_errno(std::string("workspace overlay: mkdir ") + name);
      // The overlay is mounted by the jail's user, in its user namespace: it must own them.
      if (::geteuid() == 0 && ::fchownat(scratch->get(), name, ws.upper_uid, ws.upper_gid, AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno(std::string("workspace overlay: chown ") + name);
    }
    auto listing = open_dir_at(scratch->get(), "upper", O_RDONLY);
    if (!listing) return fail_errno("workspace overlay: open upper");
    out.mounts_[*ws.overlay_index].upper_path = path + "/upper";
    out.mounts_[*ws.overlay_index].work_path = path + "/work";
    out.upper_ = std::move(*listing);
  }
  return out;
}

}  // namespace aj::workspace
