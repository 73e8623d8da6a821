#include "host/cgroups.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/strings.h"
#include "sys/files.h"

namespace aj::host {
namespace {

// The controllers agentjail uses; the others are never touched.
constexpr const char* kV2Controllers[] = {"memory", "pids", "cpu"};
constexpr const char* kV1Controllers[] = {"memory", "pids", "cpu", "cpuacct"};

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

// With our effective ids, as the kernel will check them when we write.
bool can_write(const std::string& path, bool directory) {
  return ::faccessat(AT_FDCWD, path.c_str(), directory ? W_OK | X_OK : W_OK, AT_EACCESS) == 0;
}

std::string read_or_empty(const std::string& path) {
  auto text = sys::read_file(path);
  return text ? *text : std::string();
}

// "/a/b" for MOUNT/a/b, "/" for MOUNT itself.
std::string relative_to(const std::string& dir, const std::string& mount) {
  return dir.size() > mount.size() ? dir.substr(mount.size()) : "/";
}

std::string uid_text(const Host& host) { return "uid " + std::to_string(host.euid); }

bool swap_accounting_v2(const std::string& self_dir, bool self_is_root) {
  // Below the root every cgroup with the memory controller has memory.swap.max unless swap
  // accounting is off; the root has none of its own, so ask the kernel command line.
  if (!self_is_root) return exists(self_dir + "/memory.swap.max");
  std::string cmdline = read_or_empty("/proc/cmdline");
  return cmdline.find("swapaccount=0") == std::string::npos && cmdline.find("noswap") == std::string::npos;
}

void probe_v2(Host& host, const std::vector<CgroupMount>& mounts, const std::vector<ProcCgroupLine>& lines) {
  CgroupV2& v2 = host.cgroup_v2;
  auto mount = std::find_if(mounts.begin(), mounts.end(), [](const CgroupMount& m) { return m.v2; });
  if (mount == mounts.end()) {
    v2.problem = "no cgroup2 filesystem is mounted";
    return;
  }
  v2.mounted = true;
  v2.mount = mount->mount_point;
  auto line = std::find_if(lines.begin(), lines.end(),
                           [](const ProcCgroupLine& l) { return l.hierarchy == 0 && l.controllers.empty(); });
  if (line == lines.end()) {
    v2.problem = "/proc/self/cgroup has no cgroup v2 (\"0::\") entry";
    return;
  }
  v2.self = line->path;
  auto dir = cgroup_dir(mount->mount_point, mount->root, line->path);
  if (!dir) {
    v2.problem = "our cgroup " + v2.self + " is not below what is mounted at " + v2.mount +
                 " (mounted from another cgroup namespace)";
    return;
  }
  v2.self = relative_to(*dir, v2.mount);
  // The real root has no cgroup.type; the root of a cgroup namespace does, and the
  // no-internal-processes rule applies to it like to any other cgroup.
  v2.self_is_root = !exists(*dir + "/cgroup.type");
  v2.available = words(read_or_empty(*dir + "/cgroup.controllers"));
  const auto enabled = words(read_or_empty(*dir + "/cgroup.subtree_control"));
  const std::string type = std::string(trim(read_or_empty(*dir + "/cgroup.type")));

  std::vector<std::string> problems;
  v2.writable = can_write(*dir, true) && can_write(*dir + "/cgroup.procs", false);
  if (!v2.writable) problems.push_back(*dir + " is not writable by " + uid_text(host) + ": it is not delegated to us");
  if (!v2.self_is_root && !type.empty() && type != "domain")
    problems.push_back("our cgroup is of type \"" + type + "\"; only a \"domain\" cgroup can hold the jail's limits");

  // Who else is in our cgroup matters only below the root (the no-internal-processes rule
  // spares the root), and the root's list is every process of the host: not read there.
  size_t others = 0;
  if (!v2.self_is_root)
    for (const auto& word : words(read_or_empty(*dir + "/cgroup.procs")))
      if (word != std::to_string(host.pid)) ++others;
  bool can_enable = v2.writable && can_write(*dir + "/cgroup.subtree_control", false) &&
                    (v2.self_is_root || (others == 0 && (type.empty() || type == "domain")));
  if (v2.writable && !v2.self_is_root && others > 0)
    problems.push_back("our cgroup " + v2.self + " also holds " + std::to_string(others) +
                       " other process(es), so no controller can be enabled for a child (cgroup v2's "
                       "no-internal-processes rule) and agentjail moves only itself");
  v2.must_move_self = can_enable && !v2.self_is_root;

  std::vector<std::string> missing, on_v1;
  for (const char* controller : kV2Controllers) {
    if (!contains(v2.available, controller)) {
      bool v1 = std::any_of(mounts.begin(), mounts.end(),
                            [&](const CgroupMount& m) { return !m.v2 && contains(m.options, controller); });
      (v1 ? on_v1 : missing).push_back(controller);
    } else if (contains(enabled, controller) || can_enable) {
      v2.delegated.push_back(controller);
    }
  }
  if (!on_v1.empty())
    problems.push_back(join(on_v1, ", ") + (on_v1.size() == 1 ? " is" : " are") +
                       " attached to cgroup v1 (a hybrid host), not to cgroup v2");
  if (!missing.empty())
    problems.push_back(join(missing, ", ") + (missing.size() == 1 ? " is" : " are") +
                       " not enabled for our cgroup " + v2.self + " by its parent (cgroup.subtree_control)");
  v2.swap_accounting = contains(v2.available, "memory") && swap_accounting_v2(*dir, v2.self_is_root);

  if (!problems.empty()) {
    v2.problem = join(problems, "; ");
    // On a hybrid host delegation cannot bring back controllers that cgroup v1 holds.
    if (!on_v1.empty())
      v2.problem += "; fix (cgroup v2 only): boot with systemd.unified_cgroup_hierarchy=1";
    else if (!v2.writable || others > 0 || !missing.empty())
      v2.problem += "; fix: " + delegation_hint(host.is_root());
  }
}

void probe_v1(Host& host, const std::vector<CgroupMount>& mounts, const std::vector<ProcCgroupLine>& lines) {
  for (const char* controller : kV1Controllers) {
    auto mount = std::find_if(mounts.begin(), mounts.end(),
                              [&](const CgroupMount& m) { return !m.v2 && contains(m.options, controller); });
    if (mount == mounts.end()) continue;
    CgroupV1Controller entry;
    entry.mount = mount->mount_point;
    auto line = std::find_if(lines.begin(), lines.end(),
                             [&](const ProcCgroupLine& l) { return l.hierarchy != 0 && contains(l.controllers, controller); });
    if (line == lines.end()) {
      entry.problem = std::string("/proc/self/cgroup has no ") + controller + " entry";
    } else if (auto dir = cgroup_dir(mount->mount_point, mount->root, line->path); !dir) {
      entry.self = line->path;
      entry.problem = "our cgroup " + line->path + " is not below what is mounted at " + entry.mount;
    } else {
      entry.self = relative_to(*dir, entry.mount);
      entry.writable = can_write(*dir, true) && can_write(*dir + "/cgroup.procs", false);
      if (!entry.writable) entry.problem = *dir + " is not writable by " + uid_text(host);
      if (std::string(controller) == "memory") entry.memsw = exists(*dir + "/memory.memsw.limit_in_bytes");
      if (std::string(controller) == "memory") entry.kmem_tcp = exists(*dir + "/memory.kmem.tcp.limit_in_bytes");
    }
    host.cgroup_v1.emplace(controller, std::move(entry));
  }
}

}  // namespace

std::string CgroupV2::self_dir() const { return self == "/" ? mount : mount + self; }
bool CgroupV2::has(const std::string& controller) const { return contains(delegated, controller); }
std::string CgroupV1Controller::self_dir() const { return self == "/" ? mount : mount + self; }

std::string delegation_hint(bool root) {
  return root ? "run agentjail in a scope of its own with the controllers delegated: "
                "systemd-run --scope -p Delegate=yes agentjail ..."
              : "run agentjail in a delegated scope of its own: systemd-run --user --scope -p Delegate=yes agentjail ...";
}

void probe_cgroups(Host& host, const std::vector<CgroupMount>& mounts, const std::vector<ProcCgroupLine>& lines) {
  probe_v2(host, mounts, lines);
  probe_v1(host, mounts, lines);
  host.clone_into_cgroup = host.cgroup_v2.mounted && host.kernel_at_least(5, 7);
  host.cgroup_kill = host.cgroup_v2.mounted && host.kernel_at_least(5, 14);
  host.memory_peak = host.cgroup_v2.mounted && host.kernel_at_least(5, 19);
}

}  // namespace aj::host
