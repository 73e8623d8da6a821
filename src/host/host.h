// What this machine can enforce. Probed once per command; shared by `doctor` and the planner.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "host/ids.h"

namespace aj::host {

struct CgroupV2 {
  bool mounted = false;
  std::string mount;                    // e.g. "/sys/fs/cgroup" or "/sys/fs/cgroup/unified"
  std::string self;                     // our cgroup relative to `mount`, from /proc/self/cgroup "0::"
  bool self_is_root = false;            // we run in the hierarchy's root (no internal-process rule)
  std::vector<std::string> available;   // controllers in our cgroup's cgroup.controllers
  std::vector<std::string> delegated;   // of those, the ones we can enable for a child we create
  bool writable = false;                // we may create a child cgroup below `self` and move our child into it
  // Enabling controllers for a child needs our own cgroup free of processes: we are its only
  // process, so JailCgroup::create moves agentjail itself into a leaf first.
  bool must_move_self = false;
  bool swap_accounting = false;         // memory.swap.max exists (or will, below the root)
  std::string problem;                  // why some controller or the whole hierarchy is unusable, with the fix

  // The directory of our own cgroup: mount + self.
  std::string self_dir() const;
  bool has(const std::string& controller) const;  // delegated
};

struct CgroupV1Controller {
  std::string mount;  // e.g. "/sys/fs/cgroup/memory"; co-mounted controllers share it
  std::string self;   // our cgroup relative to `mount`
  bool writable = false;
  bool memsw = false;  // memory only: memory.memsw.* exists (swap is accounted and can be limited)
  bool kmem_tcp = false;  // memory only: memory.kmem.tcp.limit_in_bytes exists (socket buffers can be bounded)
  std::string problem;  // why it is not writable

  std::string self_dir() const;  // mount + self
};

// The workspace's source directory as this caller finds it (probe_workspace), for the planner.
struct WorkspaceSource {
  std::string path;          // absolute, as the policy resolved it
  int error = 0;             // errno of stat(): ENOENT, EACCES, ...; 0 when found
  bool is_dir = false;
  uint32_t uid = 0, gid = 0; // its owner
  uint32_t mode = 0;
  std::string fs_type;       // "ext4", "9p", ... (statfs magic), or the magic in hex
  bool fs_idmappable = false;  // a filesystem type Linux supports idmapped mounts on (at this kernel)
};

// An argument of the command that names an entry (of any type) of the caller's working
// directory, found by probe_cwd_args.
struct CwdArg {
  std::string arg;   // as given on the command line
  std::string path;  // the entry on the host: absolute, lexically normal
};

// The caller's working directory and the command's arguments found in it.
struct CallerCwd {
  std::string path;  // absolute, from getcwd
  std::vector<CwdArg> args;
};

struct Host {
  // Who runs agentjail.
  uid_t uid = 0, euid = 0;
  gid_t gid = 0, egid = 0;
  pid_t pid = 0;
  bool is_root() const { return euid == 0; }

  std::string kernel;                 // uname -r
  int kernel_major = 0, kernel_minor = 0;
  // True when the running kernel is at least major.minor.
  bool kernel_at_least(int major, int minor) const;

  bool userns = false;                // a user namespace can be created by this caller
  bool unprivileged_userns = false;   // ... and by an ordinary user (sysctls, AppArmor)
  std::string userns_problem;         // why not, with the fix

  CgroupV2 cgroup_v2;
  std::map<std::string, CgroupV1Controller> cgroup_v1;  // by controller name: memory, pids, cpu, cpuacct
  bool clone_into_cgroup = false;     // clone3(CLONE_INTO_CGROUP), kernel >= 5.7
  bool cgroup_kill = false;           // cgroup.kill, kernel >= 5.14
  bool memory_peak = false;           // memory.peak, kernel >= 5.19
  uint64_t swap_total_bytes = 0;      // SwapTotal of /proc/meminfo

  bool seccomp = false;               // seccomp filter mode
  bool seccomp_notify = false;        // SECCOMP_RET_USER_NOTIF
  int landlock_abi = 0;               // 0 when landlock is unavailable
  // Per-user kernel budgets of the caller, which its jails' use is charged to (plan/budgets.h
  // divides them). -1: unknown (no such file).
  long max_inotify_instances = -1;    // /proc/sys/user/max_inotify_instances of our user namespace
  long max_inotify_watches = -1;      // /proc/sys/user/max_inotify_watches
  uint64_t msgqueue_bytes = 0;        // our RLIMIT_MSGQUEUE soft limit (RLIM_INFINITY: unlimited)
  int memfd_noexec = -1;              // vm.memfd_noexec of our pid namespace; -1: kernel < 6.3
  bool cap_sys_admin = false;         // CAP_SYS_ADMIN in our effective set (root without it cannot set that)
  // Not probed: how many jails may run at once (serve's --max-jails; `run` assumes the same
  // default), to divide those budgets between them.
  unsigned concurrent_jails = 4;

  // Not probed: `run --landlock-max-abi N` (for testing) lets agentjail use at most ABI N of
  // the kernel's, to show an older kernel's behaviour on a newer one. -1: no cap.
  int landlock_abi_cap = -1;

  // Host ids for the jail (host/ids.h; plan/identity.h decides from them).
  // Not probed: run by root, the uid (and gid of the same number) leased for this jail before
  // planning, when the policy names no host_user.
  std::optional<uint32_t> leased_id;
  // An ordinary caller's subordinate ids (/etc/subuid, /etc/subgid) and whether newuidmap
  // and newgidmap are installed to map them.
  std::vector<IdRange> subuids, subgids;
  bool newidmap_tools = false;
  // Not probed by probe(): the caller fills it with probe_workspace() when the policy has one.
  std::optional<WorkspaceSource> workspace;
  // Not probed by probe(): `run` fills it with probe_cwd_args(), so that a failed command
  // whose file the jail does not see can be told so (plan/cwd_args.h).
  std::optional<CallerCwd> caller_cwd;
};

// Reads /proc, /sys and a few harmless syscalls; creates nothing, forks nothing.
Host probe();

// stat()s the workspace source `path` (following symlinks, as the bind will) and its filesystem.
WorkspaceSource probe_workspace(const std::string& path, const Host& host);

// The arguments of `argv` (at most kMaxCwdArgs of them looked at) that name an existing entry
// of the caller's working directory: a relative path that stays below it, or an absolute path
// under it. Looked up relative to an fd of the cwd, never through a symlink (openat2
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS for the parent, fstatat AT_SYMLINK_NOFOLLOW for the
// entry). Options ("-x", "--file=x") are not paths. Nothing when the cwd cannot be opened.
constexpr size_t kMaxCwdArgs = 256;
CallerCwd probe_cwd_args(const std::vector<std::string>& argv);

// Doctor only (forks): creates a user namespace in a child process and returns "" on success
// or what failed ("unshare(CLONE_NEWUSER): Operation not permitted"). `as_uid` >= 0 (root
// callers only): the child first becomes that ordinary user, to test the unprivileged case.
std::string try_user_namespace(int as_uid = -1);

// The fix to print for a cgroup v2 hierarchy that is not delegated to this caller.
std::string delegation_hint(bool root);

}  // namespace aj::host
