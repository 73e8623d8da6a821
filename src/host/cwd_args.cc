// The command's arguments that name files of the caller's working directory (host.h).
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>

#include "host/host.h"
#include "sys/fd.h"

namespace aj::host {
namespace {

// "a/./b/../c/" -> "a/c"; "/x/" -> "/x".
std::string lexically_normal(const std::string& path) {
  std::string out = std::filesystem::path(path).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// `path` relative to `cwd` when it is below it ("" when it is cwd itself or outside it).
std::string below(const std::string& cwd, const std::string& path) {
  if (cwd == "/") return path.substr(1);
  if (path.size() <= cwd.size() || path.compare(0, cwd.size(), cwd) != 0 || path[cwd.size()] != '/') return "";
  return path.substr(cwd.size() + 1);
}

// True when `rel` (normal, relative, not "..") names an entry below the directory `dir`,
// looked up without following any symlink, the last component's included.
bool entry_exists(int dir, const std::string& rel) {
  size_t slash = rel.rfind('/');
  sys::UniqueFd parent;
  if (slash != std::string::npos) {
    struct open_how how {};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const std::string parent_path = rel.substr(0, slash);
    long fd = ::syscall(SYS_openat2, dir, parent_path.c_str(), &how, sizeof how);
    if (fd < 0) return false;
    parent = sys::UniqueFd(static_cast<int>(fd));
  }
  const std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  struct stat st {};
  return ::fstatat(parent ? parent.get() : dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

}  // namespace

CallerCwd probe_cwd_args(const std::vector<std::string>& argv) {
  CallerCwd out;
  sys::UniqueFd cwd_fd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  char buf[PATH_MAX];
  if (!cwd_fd || !::getcwd(buf, sizeof buf) || buf[0] != '/') return out;
  out.path = buf;
  for (size_t i = 0; i < argv.size() && i < kMaxCwdArgs; ++i) {
    const std::string& arg = argv[i];
    if (arg.empty() || arg.front() == '-' || arg.size() >= PATH_MAX) continue;
    // A ".." would be resolved through whatever its parent is (a symlink, on the host or in
    // the jail): such an argument is not judged at all.
    const std::string slashed = "/" + arg + "/";
    if (slashed.find("/../") != std::string::npos) continue;
    std::string rel = arg.front() == '/' ? below(out.path, lexically_normal(arg)) : lexically_normal(arg);
    if (rel == ".") rel.clear();
    if (rel.empty() || !entry_exists(cwd_fd.get(), rel)) continue;
    out.args.push_back({arg, lexically_normal(out.path + "/" + rel)});
  }
  return out;
}

}  // namespace aj::host
