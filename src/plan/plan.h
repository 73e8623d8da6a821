// The Plan: everything the jail will do, decided before any syscall. Above it, policy
// munging that unit tests cover without root; below it, code that executes a Plan and
// makes no decisions of its own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "cgroup/cgroup.h"
#include "host/host.h"
#include "policy/model.h"
#include "seccomp/filter.h"

namespace aj::plan {

// One line of /proc/PID/uid_map or gid_map.
struct IdMap {
  uint32_t inside = 0;
  uint32_t outside = 0;
  uint32_t count = 1;
};

enum class MountKind {
  bind,        // bind `source` (host) at `target`; directory or file, as the source is
  tmpfs,       // fresh tmpfs
  proc,        // procfs of the jail's pid namespace
  devpts,      // private devpts instance (newinstance, ptmxmode=0666)
  symlink,     // symlink at `target` whose text is `source`
  file,        // read-only file with `content`
  mask,        // hide `target`: /dev/null over a file, an empty read-only tmpfs over a directory
  read_only,   // remount an existing mount point inside the jail read-only (bind onto itself)
};

struct MountOp {
  MountKind kind = MountKind::bind;
  std::string source;
  std::string target;  // absolute, inside the new root
  bool read_only = false;
  bool optional = false;   // bind: a missing source is skipped; mask/read_only: a missing target is skipped
  bool noexec = false;
  bool nodev = true;       // false only for the binds of the device nodes in /dev
  std::optional<uint64_t> size;  // tmpfs
  uint32_t mode = 0755;          // tmpfs root directory, file
  std::string content;           // file
};

struct Rlimit {
  int resource = 0;       // RLIMIT_*
  const char* name = "";  // "RLIMIT_FSIZE", for messages
  uint64_t soft = 0;      // RLIM_INFINITY for unlimited
  uint64_t hard = 0;
};

struct Enforcement {
  bool userns = true;
  cgroup::Kind cgroup = cgroup::Kind::none;
  bool seccomp = true;
  bool landlock = false;
};

struct Plan {
  // Identity. The jail's user and group are mapped to exactly one host uid and gid.
  bool caller_is_root = false;
  uint32_t jail_uid = 65534, jail_gid = 65534;
  IdMap uid_map, gid_map;
  bool deny_setgroups = false;  // unprivileged callers: "deny" must precede gid_map
  bool clear_groups = false;    // root callers: drop the supplementary groups (setgroups(0))

  // Namespaces (CLONE_NEW* flags) and what to do in them.
  uint64_t clone_flags = 0;
  bool loopback_up = false;
  std::string hostname;  // empty: leave the uts name as it is

  // The new root, built in this order on a fresh tmpfs, then made read-only.
  std::vector<MountOp> mounts;

  // The command.
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
  std::string path_env;          // the jail's PATH, for resolving argv[0]
  std::string cwd = "/";
  uint32_t umask = 022;
  bool new_session = true;
  std::vector<Rlimit> rlimits;
  std::vector<int> keep_caps;    // CAP_* values kept in the jail's user namespace

  seccomp::FilterSpec seccomp;

  // Enforced by the supervisor and the cgroup.
  std::optional<uint64_t> wall_time_ms;
  std::optional<uint64_t> cpu_time_ms;
  uint64_t output_bytes = 1 << 20;
  policy::Limits limits;         // as the policy says, for the cgroup and the report
  cgroup::Enforcement cgroup;

  Enforcement enforcement;
  std::vector<std::string> warnings;  // what this host cannot enforce, in the report
};

// Pure: Policy + Host + argv + the caller's environment -> Plan. No syscalls.
Result<Plan> build(const policy::Policy& policy, const host::Host& host, std::vector<std::string> argv,
                   const std::map<std::string, std::string>& caller_env);

}  // namespace aj::plan
