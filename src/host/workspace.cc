// The workspace source as the planner needs it: does it exist, who owns it, on what filesystem.
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstdio>

#include "host/host.h"

namespace aj::host {
namespace {

struct FsType {
  unsigned long magic;
  const char* name;
  int major, minor;  // the first kernel that idmaps it (0: never)
};

// The filesystems Linux lets mount_setattr(MOUNT_ATTR_IDMAP) map (FS_ALLOW_IDMAP), with the
// release that added each; the others (9p, nfs, fuse, ...) get the fallback.
constexpr FsType kFsTypes[] = {
    {0xEF53, "ext4", 5, 12},     {0x58465342, "xfs", 5, 12}, {0x4d44, "vfat", 5, 12},
    {0x9123683E, "btrfs", 5, 15}, {0xF2F52010, "f2fs", 5, 18}, {0xE0F5E1E2, "erofs", 5, 17},
    {0x794c7630, "overlay", 5, 19}, {0x01021994, "tmpfs", 6, 3}, {0x73717368, "squashfs", 6, 12},
    {0x01021997, "9p", 0, 0},   {0x6969, "nfs", 0, 0},       {0x65735546, "fuse", 0, 0},
};

}  // namespace

WorkspaceSource probe_workspace(const std::string& path, const Host& host) {
  WorkspaceSource out;
  out.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    out.error = errno;
    return out;
  }
  out.is_dir = S_ISDIR(st.st_mode);
  out.uid = st.st_uid;
  out.gid = st.st_gid;
  out.mode = st.st_mode & 07777;
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) == 0) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(fs.f_type));
    out.fs_type = hex;
    for (const auto& type : kFsTypes)
      if (static_cast<unsigned long>(fs.f_type) == type.magic) {
        out.fs_type = type.name;
        out.fs_idmappable = type.major != 0 && host.kernel_at_least(type.major, type.minor);
      }
  }
  return out;
}

}  // namespace aj::host
