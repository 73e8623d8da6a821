// What this machine can enforce. Probed once per command; shared by `doctor` and the planner.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace aj::host {

struct CgroupV2 {
  bool mounted = false;
  std::string mount;                    // e.g. "/sys/fs/cgroup" or "/sys/fs/cgroup/unified"
  std::string self;                     // our cgroup relative to `mount`, from /proc/self/cgroup "0::"
  std::vector<std::string> available;   // controllers in our cgroup's cgroup.controllers
  std::vector<std::string> delegated;   // of those, the ones we can enable for a child we create
  bool writable = false;                // we may create a child cgroup below `self`
  std::string problem;                  // why not, with the fix (empty when fine)
};

struct CgroupV1Controller {
  std::string mount;  // e.g. "/sys/fs/cgroup/memory"
  std::string self;   // our cgroup relative to `mount`
  bool writable = false;
};

struct Host {
  // Who runs agentjail.
  uid_t uid = 0, euid = 0;
  gid_t gid = 0, egid = 0;
  bool is_root() const { return euid == 0; }

  std::string kernel;                 // uname -r
  bool userns = false;                // a user namespace can be created by this caller
  bool unprivileged_userns = false;   // ... and by an ordinary user (sysctls, AppArmor)
  std::string userns_problem;         // why not, with the fix

  CgroupV2 cgroup_v2;
  std::map<std::string, CgroupV1Controller> cgroup_v1;  // by controller name: memory, pids, cpu, cpuacct
  bool clone_into_cgroup = false;     // clone3(CLONE_INTO_CGROUP), kernel >= 5.7
  bool cgroup_kill = false;           // cgroup.kill, kernel >= 5.14

  bool seccomp = false;               // seccomp filter mode
  bool seccomp_notify = false;        // SECCOMP_RET_USER_NOTIF
  int landlock_abi = 0;               // 0 when landlock is unavailable
};

// Reads /proc, /sys and a few harmless syscalls; creates nothing.
Host probe();

}  // namespace aj::host
