// remove_stale: directories of agentjail runs that died without their destructor (SIGKILL).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <set>

#include "base/log.h"
#include "cgroup/cgroup.h"
#include "cgroup/parse.h"
#include "cgroup/layout.h"
#include "sys/fd.h"
#include "sys/files.h"

namespace aj::cgroup {
namespace {

// A zombie (or a dying process) is dead: kill(pid, 0) still succeeds until its parent reaps
// it, which on a host whose pid 1 reaps orphans late can take seconds after a SIGKILL.
bool zombie(pid_t pid) {
  auto stat = sys::read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;  // no procfs of our pid namespace: trust kill() alone
  // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return false;
  char state = (*stat)[close + 2];
  return state == 'Z' || state == 'X' || state == 'x';
}

bool process_exists(pid_t pid) { return (::kill(pid, 0) == 0 || errno == EPERM) && !zombie(pid); }

int remove_stale_below(const std::string& parent) {
  DIR* listing = ::opendir(parent.c_str());
  if (!listing) return 0;
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(listing))
    if (entry->d_type == DT_DIR && owner_of(entry->d_name)) names.emplace_back(entry->d_name);
  ::closedir(listing);

  int removed = 0;
  for (const auto& name : names) {
    // Two independent signs of death: the owner pid is gone (in our pid namespace) and no one
    // holds the directory's lock (whatever pid namespace the owner lived in).
    pid_t owner = *owner_of(name);
    if (owner == ::getpid() || process_exists(owner)) continue;
    const std::string path = parent + "/" + name;
    sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || !detail::try_lock(fd.get())) continue;
    // rmdir refuses a cgroup that still holds processes: those are not ours to kill.
    if (::rmdir(path.c_str()) == 0) {
      spdlog::info("removed stale cgroup {}", path);
      ++removed;
    } else {
      spdlog::info("stale cgroup {} not removed: {}", path, errno_text(errno));
    }
  }
  return removed;
}

}  // namespace

int remove_stale(const host::Host& host) {
  std::set<std::string> parents;
  if (host.cgroup_v2.mounted && host.cgroup_v2.writable) parents.insert(host.cgroup_v2.self_dir());
  for (const auto& [controller, hierarchy] : host.cgroup_v1)
    if (hierarchy.writable) parents.insert(hierarchy.self_dir());
  int removed = 0;
  for (const auto& parent : parents) removed += remove_stale_below(parent);
  return removed;
}

}  // namespace aj::cgroup
