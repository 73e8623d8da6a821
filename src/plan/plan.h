// The Plan: everything the jail will do, decided before any syscall (plan/build.h makes it).
// Above it, policy munging that unit tests cover without root; below it, the executors
// (cgroup/, seccomp/, jail/, supervise/) that carry a Plan out and make no decisions of their
// own. They include this header, which includes neither the policy's headers nor theirs.
// docs/architecture.md draws the layers.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "egress/config.h"
#include "host/host.h"
#include "limits/limits.h"

namespace aj::plan {

// One line of /proc/PID/uid_map or gid_map.
struct IdMap {
  uint32_t inside = 0;
  uint32_t outside = 0;
  uint32_t count = 1;
};

enum class MountKind {
  bind,        // bind `source` (host) at `target`; directory or file, as the source is
  tmpfs,       // fresh tmpfs with `fs_options`
  proc,        // procfs of the jail's pid namespace
  devpts,      // private devpts instance with `fs_options`
  symlink,     // symlink at `target` whose text is `source`
  file,        // read-only file with `content`
  mask,        // hide `target`: an empty read-only file over a file, an empty read-only tmpfs
               // (created with `fs_options`) over a directory
  read_only,   // remount an existing mount point inside the jail read-only (bind onto itself)
  overlay,     // overlayfs over `target`: the mount already there (the workspace's bind) is the
               // lower layer, the upper and work directories are the supervisor's (workspace/)
};

struct MountOp {
  MountKind kind = MountKind::bind;
  std::string source;
  std::string target;  // absolute, inside the new root
  bool read_only = false;
  bool optional = false;   // bind: a missing source is skipped; mask/read_only: a missing target is skipped
  bool noexec = false;
  bool nodev = true;       // false only for the binds of the device nodes in /dev
  // Options of a fresh filesystem (tmpfs, devpts, a mask's empty tmpfs), in the order given to
  // fsconfig; an empty value is a flag ("newinstance").
  std::vector<std::pair<std::string, std::string>> fs_options;
  uint32_t mode = 0755;    // file: the file's permission bits
  std::string content;     // file
  // Where the entry came from ("policy.toml:12:1", "--ro"), for messages about it.
  std::string origin;
  // bind: the policy opted in to a source on the host's procfs, sysfs or /dev (checked again on
  // the opened source, where a symlink could have led there).
  bool host_kernel_fs = false;
  // bind: an idmapped mount, which only the supervisor (host root) can make, before clone: the
  // source's on-disk ids `inside` appear as (and files created get) host ids `outside`.
  std::optional<IdMap> idmap_uid, idmap_gid;
};

struct Rlimit {
  int resource = 0;       // RLIMIT_*
  const char* name = "";  // "RLIMIT_FSIZE", for messages
  uint64_t soft = 0;      // RLIM_INFINITY for unlimited
  uint64_t hard = 0;
};

// A file of the jail's own user namespace's /proc/sys/user, written by the init.
struct Sysctl {
  std::string path;
  std::string value;
};

enum class CgroupKind { none, v1, v2 };
const char* to_string(CgroupKind kind);  // "none" | "v1" | "v2", as the report's enforcement.cgroup

// CFS bandwidth: a quota of CPU time per period.
struct CpuQuota {
  uint64_t quota_us = 0, period_us = 0;
};

// How each limit of the plan is enforced on this host: which cgroup hierarchy (if any) and what
// falls back to what. The values are Plan::limits'.
struct CgroupPlan {
  CgroupKind kind = CgroupKind::none;
  bool memory = false, pids = false, cpus = false, cpu_time = false;  // by the cgroup
  bool memory_swap = false;     // memory: swap is limited to 0 too (memory.swap.max / memsw)
  // v1: socket buffers have a counter of their own, outside memory.limit_in_bytes: bounded by
  // the memory limit too (memory.kmem.tcp.limit_in_bytes). v2 charges them to memory.max.
  bool memory_tcp = false;
  bool rlimit_as = false;       // memory falls back to RLIMIT_AS (per process, address space)
  bool rlimit_nproc = false;    // pids fall back to RLIMIT_NPROC (per user namespace on >= 5.14)
  CpuQuota cpu_quota;           // cpus: the bandwidth written
  // v2: the controllers the jail's cgroup gets; v1: the hierarchies it is created in.
  // Controllers are used for accounting (memory.peak, pids.peak) even without a limit.
  std::vector<std::string> controllers;
  std::vector<std::string> warnings;  // one line per limit that is weaker than asked
  std::vector<std::string> notes;     // what the report measures less well here (not limits)
};

// What a refused system call gets (seccomp.default_action).
enum class FilterAction { errno_, kill, log };
const char* to_string(FilterAction action);  // "errno" | "kill" | "log", as violations name it

// The jail's network: which namespace, and which socket families the filter lets it create.
enum class NetworkMode { none, loopback, host, allowlist };

// Everything the seccomp compiler needs (seccomp/filter.h).
struct SeccompSpec {
  FilterAction default_action = FilterAction::errno_;
  int errno_value = 1;
  std::vector<std::string> allow;   // names and @sets, as in the policy
  std::vector<std::string> deny;
  bool notify = false;              // refused calls go to a user-notification listener (host supports it)
  NetworkMode network = NetworkMode::none;  // decides which socket families exist
  // After the filter is installed the child still has to send the listener fd (and, on a
  // failed execve, the errno) to the supervisor: sendmsg on exactly this fd stays allowed.
  // -1: no such socket (e.g. a filter exported for bwrap).
  int sync_fd = -1;
};

// One Landlock rule: `allowed` (sys/landlock.h rights) for the tree or file at `path` of the
// finished root. A file (not a directory) keeps only the rights a file can carry.
struct LandlockRule {
  std::string path;
  uint64_t allowed = 0;
  bool optional = false;  // its mount may be missing (an optional bind): no such path is skipped
  std::string origin;     // the mount it comes from, for messages
};

// The second fence over the mounts (plan/landlock.h derives it). The command applies it
// after no_new_privs; with `abi` 0 there is no ruleset.
struct LandlockPlan {
  bool enabled = false;      // landlock != "off": the report states the fields below
  int abi_kernel = 0;        // what the kernel has
  int abi = 0;               // what the ruleset is built for (capped by agentjail and --landlock-max-abi)
  uint64_t handled_fs = 0;   // every filesystem right of `abi`: denied unless a rule grants it
  uint64_t scoped = 0;       // LANDLOCK_SCOPE_* of `abi`
  std::vector<LandlockRule> rules;
  // The command may reopen what it inherits as 0, 1 and 2 (a terminal, a file of the caller's:
  // "echo x > /dev/stderr") the way each was opened, and no further: read-only stays read-only.
  bool reopen_stdio = false;
  std::vector<std::string> not_enforced;  // rights of the newest ABI this run lacks, by name
};

// Where the jail's host uid and gid (uid_map.outside, gid_map.outside) come from.
enum class HostIds {
  caller,  // an ordinary caller's own ids: the only ones its user namespace may map
  leased,  // run by root: leased for this jail alone from the host's jail range (host/ids.h)
  policy,  // run by root: process.host_user (host_group may still be leased, or the other way round)
  subordinate,  // an ordinary caller's subordinate ids (/etc/subuid), leased for this jail alone
};

// The caller's directory in the jail ([workspace], agentjail-policy(5) WORKSPACE).
enum class WorkspaceMode { ro, rw, overlay };
const char* to_string(WorkspaceMode mode);  // "ro" | "rw" | "overlay"

// How files the jail writes come to belong to the source's owner.
enum class WorkspaceOwnership {
  same_user,        // the jail's host uid is the owner's already
  idmapped,         // an idmapped mount maps the owner's ids to the jail's
  mapped_to_owner,  // fallback: the jail's user is mapped to the owner's host uid itself
  not_owner,        // fallback: neither is possible; the jail writes as its own uid
};
const char* to_string(WorkspaceOwnership ownership);

struct WorkspacePlan {
  std::string source, target;     // host directory (absolute), where it appears in the jail
  WorkspaceMode mode = WorkspaceMode::ro;
  std::string keep_changes;       // overlay: host directory for the changed files ("": none)
  size_t bind_index = 0;          // its bind in Plan::mounts
  std::optional<size_t> overlay_index;  // overlay: its overlay mount in Plan::mounts
  WorkspaceOwnership ownership = WorkspaceOwnership::same_user;
  uint32_t owner_uid = 0, owner_gid = 0;
  // overlay: the host ids that own the upper and work directories (the jail's, so that the
  // overlay mounted in its user namespace can write them).
  uint32_t upper_uid = 0, upper_gid = 0;
};

// The descriptor number the jail keeps its end of the supervisor socket on, from pid 1's last
// step until the command's execve closes it. High, so that with limits.open_files below it the
// command cannot get a socket of its own onto this number (the filter allows sendmsg on it only).
constexpr int kChildSyncFd = 1023;

struct Plan {
  // Identity (plan/identity.h). The jail's user and group are mapped to exactly one host uid
  // and gid: uid_map.outside and gid_map.outside.
  bool caller_is_root = false;
  uint32_t jail_uid = 65534, jail_gid = 65534;
  IdMap uid_map, gid_map;
  HostIds host_ids = HostIds::caller;
  bool id_maps_by_helper = false;  // newuidmap/newgidmap write the maps (subordinate ids)
  bool deny_setgroups = false;  // unprivileged callers: "deny" must precede gid_map
  bool clear_groups = false;    // root callers: drop the supplementary groups (setgroups(0))
  std::vector<Sysctl> userns_limits;  // written in the jail's new user namespace

  // Namespaces (CLONE_NEW* flags) and what to do in them.
  uint64_t clone_flags = 0;
  NetworkMode network = NetworkMode::none;
  bool loopback_up = false;
  // network.mode = "allowlist": what the broker enforces (plan/network.h). The jail's init then
  // creates the listeners and passes them to the supervisor, which runs the broker.
  std::optional<net::Config> allowlist;
  std::string hostname;  // empty: leave the uts name as it is

  // The new root, built in this order on a fresh tmpfs, then made read-only. It hangs at
  // `staging_dir` of the init's private copy of the host's tree until pivot_root; the files of
  // `file` mounts and masks are bound from `scratch_dir` in the new root, removed before the
  // command runs.
  std::vector<MountOp> mounts;
  std::string staging_dir = "/tmp";
  std::string scratch_dir = ".agentjail-setup";

  // The command.
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
  std::string path_env;          // the jail's PATH, for resolving argv[0]
  std::string cwd = "/";
  uint32_t umask = 022;
  bool new_session = true;
  std::vector<Rlimit> rlimits;
  std::vector<int> keep_caps;    // CAP_* values kept in the jail's user namespace
  int child_sync_fd = kChildSyncFd;

  SeccompSpec seccomp;
  LandlockPlan landlock;

  // The limits, once: the supervisor enforces wall and CPU time and the capture size, the
  // cgroup the rest as `cgroup` says, and the report restates them.
  Limits limits;
  CgroupPlan cgroup;

  std::optional<WorkspacePlan> workspace;
  // The command names files of the caller's working directory that the jail does not see
  // (plan/cwd_args.h): the warning a run that fails adds to its report, "" when there are none.
  std::string unseen_cwd_args_warning;

  // Kernel budgets shared with the host (plan/budgets.h).
  int memfd_noexec = 0;            // vm.memfd_noexec the supervisor sets in the jail's pid namespace; 0: none
  int command_oom_score_adj = 1000;  // the command's; the init keeps the caller's, so it is OOM-killed last
  // Building the jail (clone to the command's execve) may take this long; the wall limit
  // counts from the execve.
  uint64_t setup_timeout_ms = 30000;

  std::vector<std::string> warnings;  // what this host cannot enforce, in the report
};

}  // namespace aj::plan
