#include "plan/workspace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace aj::plan {

const char* to_string(WorkspaceMode mode) {
  switch (mode) {
    case WorkspaceMode::ro: return "ro";
    case WorkspaceMode::rw: return "rw";
    case WorkspaceMode::overlay: return "overlay";
  }
  return "?";
}

const char* to_string(WorkspaceOwnership ownership) {
  switch (ownership) {
    case WorkspaceOwnership::same_user: return "same-user";
    case WorkspaceOwnership::idmapped: return "idmapped";
    case WorkspaceOwnership::mapped_to_owner: return "mapped-to-owner";
    case WorkspaceOwnership::not_owner: return "not-owner";
  }
  return "?";
}

namespace {

WorkspaceMode mode_of(policy::WorkspaceMode mode) {
  switch (mode) {
    case policy::WorkspaceMode::ro: return WorkspaceMode::ro;
    case policy::WorkspaceMode::rw: return WorkspaceMode::rw;
    case policy::WorkspaceMode::overlay: return WorkspaceMode::overlay;
  }
  return WorkspaceMode::ro;
}

std::string origin_of(const policy::SourcePos& pos) {
  if (!pos.known()) return pos.file;
  return fmt::format("{}:{}:{}", pos.file, pos.line, pos.column);
}

// Why no idmapped mount can be made of `source` here, or "" when one can. Only host root
// can: the kernel requires CAP_SYS_ADMIN over the filesystem's superblock.
std::string no_idmap_reason(const host::WorkspaceSource& source, const host::Host& host, WorkspaceMode mode) {
  if (!host.is_root()) return "agentjail does not run as root (only root can make an idmapped mount)";
  if (!host.kernel_at_least(5, 12)) return fmt::format("Linux {} has no idmapped mounts (5.12+)", host.kernel);
  if (!source.fs_idmappable)
    return fmt::format("its filesystem ({}) cannot be idmapped on Linux {}", source.fs_type, host.kernel);
  if (mode == WorkspaceMode::overlay && !host.kernel_at_least(5, 19))
    return fmt::format("Linux {} cannot use an idmapped layer in an overlay (5.19+)", host.kernel);
  return "";
}

}  // namespace

Status plan_workspace(const policy::Policy& policy, const host::Host& host, Plan& plan) {
  if (!policy.workspace) return {};
  const policy::Workspace& ws = *policy.workspace;
  if (!host.workspace) return fail(EINVAL, "workspace: the source directory was not looked at");
  const host::WorkspaceSource& source = *host.workspace;
  // The probe's path: a relative source resolved against the caller's working directory.
  const std::string& path = source.path.empty() ? ws.source : source.path;
  const std::string what = fmt::format("workspace source {}", path);
  if (path.empty() || path.front() != '/') return fail(EINVAL, what + ": not an absolute path");
  if (source.error == ENOENT) return fail(0, what + " does not exist");
  if (source.error) return fail(source.error, what + ": " + std::strerror(source.error));
  if (!source.is_dir) return fail(0, what + " is not a directory");

  WorkspacePlan out;
  out.source = path;
  out.target = ws.target;
  out.mode = mode_of(ws.mode);
  out.keep_changes = ws.keep_changes;
  out.owner_uid = source.uid;
  out.owner_gid = source.gid;
  if (out.mode == WorkspaceMode::overlay && !host.kernel_at_least(5, 11))
    return fail(0, fmt::format("workspace mode overlay needs overlayfs in a user namespace (Linux 5.11+), and this "
                               "kernel is {}: use mode ro or rw, or a newer kernel",
                               host.kernel));

  // Ownership: who the files the jail writes belong to on the host.
  MountOp bind{.kind = MountKind::bind, .source = path, .target = ws.target,
               .read_only = out.mode != WorkspaceMode::rw, .origin = origin_of(ws.pos)};
  const uint32_t jail_uid = plan.uid_map.outside, jail_gid = plan.gid_map.outside;
  const bool writes = out.mode != WorkspaceMode::ro;
  const std::string reason = no_idmap_reason(source, host, out.mode);
  if (source.uid == jail_uid) {
    out.ownership = WorkspaceOwnership::same_user;
  } else if (reason.empty()) {
    out.ownership = WorkspaceOwnership::idmapped;
    bind.idmap_uid = IdMap{source.uid, jail_uid, 1};
    bind.idmap_gid = IdMap{source.gid, jail_gid, 1};
  } else if (writes && source.uid != 0 && (host.is_root() || source.uid == static_cast<uint32_t>(host.euid))) {
    // The caller may map the jail to that uid (root any, anyone else only its own). Never a
    // host gid 0: the jail would get the root group's access to the host's files.
    out.ownership = WorkspaceOwnership::mapped_to_owner;
    plan.uid_map.outside = source.uid;
    if (host.is_root() && source.gid != 0) plan.gid_map.outside = source.gid;
    plan.warnings.push_back(fmt::format(
        "workspace {}: no idmapped mount ({}); the jail runs as the directory's owner, host uid {}, instead of a uid "
        "of its own",
        path, reason, source.uid));
  } else {
    out.ownership = WorkspaceOwnership::not_owner;
    if (writes)
      plan.warnings.push_back(fmt::format(
          "workspace {}: it belongs to uid {} and there is no idmapped mount ({}); the jail writes as host uid {}: "
          "it can change only what that uid may, and its new files belong to that uid",
          path, source.uid, reason, jail_uid));
  }
  out.upper_uid = plan.uid_map.outside;
  out.upper_gid = plan.gid_map.outside;

  // The workspace takes the place of a policy mount at its target (the ci policy's scratch
  // /work), else comes last.
  auto& mounts = plan.mounts;
  auto same = std::find_if(mounts.begin(), mounts.end(), [&](const MountOp& op) { return op.target == ws.target; });
  size_t at = same == mounts.end() ? mounts.size() : static_cast<size_t>(same - mounts.begin());
  std::erase_if(mounts, [&](const MountOp& op) { return op.target == ws.target; });
  at = std::min(at, mounts.size());
  mounts.insert(mounts.begin() + static_cast<std::ptrdiff_t>(at), bind);
  out.bind_index = at;
  if (out.mode == WorkspaceMode::overlay) {
    // In the jail's user namespace overlayfs keeps its whiteouts and opaque marks in user.*
    // xattrs (userxattr); trusted.* needs host root.
    MountOp overlay{.kind = MountKind::overlay, .source = path, .target = ws.target,
                    .fs_options = {{"userxattr", ""}}, .origin = bind.origin};
    mounts.insert(mounts.begin() + static_cast<std::ptrdiff_t>(at + 1), overlay);
    out.overlay_index = at + 1;
  }

  if (!policy.process.cwd_from_option) plan.cwd = ws.target;
  plan.workspace = std::move(out);
  return {};
}

}  // namespace aj::plan
