// The policy as plain data: what `agentjail check` prints and what the planner reads.
// Every field has its effective default here, so a default-constructed Policy is the
// policy of an empty file (`version = 1` and nothing else). See man/agentjail-policy.5.scd.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "limits/limits.h"

namespace aj::policy {

// Where a value came from, for diagnostics raised after parsing (e.g. by the planner).
struct SourcePos {
  std::string file;  // path as given, or "builtin:NAME"
  uint32_t line = 0;
  uint32_t column = 0;
  bool known() const { return line != 0; }
};

enum class MountType { bind, tmpfs, proc, dev, symlink, file };

struct Mount {
  MountType type = MountType::bind;
  std::string source;   // bind: host path; symlink: link text; unused otherwise
  std::string target;   // absolute path inside the jail, no ".." components
  bool read_only = true;                 // default true for bind and file, false for tmpfs/proc/dev
  bool optional = false;                 // bind: skip silently when the source is missing
  bool exec = true;                      // false -> MS_NOEXEC
  bool unsafe_host_kernel_fs = false;    // bind: allow a source or target at or below /proc, /sys, /dev
  std::optional<uint64_t> size;          // tmpfs: bytes (default: the kernel's, half of RAM)
  std::optional<uint32_t> mode;          // tmpfs: permission bits of the root directory (default 0755)
  std::string content;                   // file: the file's text
  SourcePos pos;                         // position of the [[filesystem.mount]] table
};

struct Process {
  std::string cwd = "/";
  std::string hostname = "agentjail";
  uint32_t user = 65534;
  uint32_t group = 65534;
  // The host uid and gid the jail's user and group map to when agentjail runs as root. Unset:
  // the id leased for the jail from the host's jail range (host/ids.h), a uid and gid of its
  // own.
  std::optional<uint32_t> host_user;
  std::optional<uint32_t> host_group;
  std::map<std::string, std::string> env;
  std::vector<std::string> pass_env;
  bool new_session = true;
  uint32_t umask = 022;
  // Not a policy key: `run --cwd` was given, so it wins over a workspace's target.
  bool cwd_from_option = false;
};

using aj::Limits;  // limits/limits.h: shared by the policy, the plan and the report

struct Filesystem {
  std::vector<Mount> mounts;  // in mount order
};

enum class NetworkMode { none, loopback, host, allowlist };

// [network]; the allowlist keys apply only with mode = "allowlist" (docs/network.md).
struct Network {
  NetworkMode mode = NetworkMode::none;
  std::vector<std::string> allow;              // names, "*." suffixes, CIDRs, each with an optional port
  std::map<std::string, std::string> resolve;  // normalized name -> address literal (as curl --resolve)
  std::optional<uint64_t> max_connections = 64;  // connections relayed per run; nullopt: unlimited
  std::optional<uint64_t> max_bytes;             // bytes sent out per run; nullopt: unlimited
};

enum class SeccompAction { errno_, kill, log };

struct Seccomp {
  SeccompAction default_action = SeccompAction::errno_;
  int errno_value = 1;                            // EPERM; TOML takes a name ("EPERM") or a number
  std::vector<std::string> allow = {"@default"};  // syscall names and @sets
  std::vector<std::string> deny;                  // removed from allow, always winning
  bool notify = true;                             // record refused calls in the report
};

struct Capabilities {
  std::vector<std::string> keep;  // upper-case names without CAP_, e.g. "CHOWN"
};

struct Namespaces {
  bool user = true;
  bool mount = true;
  bool pid = true;
  bool ipc = true;
  bool uts = true;
  bool net = true;  // false exactly when network.mode = "host"
  bool cgroup = true;
};

// [workspace] (agentjail-policy(5), WORKSPACE): a host directory of the caller's in the jail.
enum class WorkspaceMode { ro, rw, overlay };

struct Workspace {
  std::string source;         // host directory; "." (or any relative path) is the caller's cwd's
  std::string target = "/work";
  WorkspaceMode mode = WorkspaceMode::ro;
  std::string keep_changes;   // overlay: a host directory that receives the changed files ("": none)
  SourcePos pos;              // of the [workspace] table, or the option ("--workspace")
};

// The second fence (agentjail-policy(5), LANDLOCK): a Landlock ruleset derived from the mounts.
enum class LandlockMode {
  off,          // no ruleset
  best_effort,  // what the kernel supports, a warning for each right it lacks
  required,     // a kernel without Landlock is an error before the command runs
};

struct Policy {
  int version = 1;
  std::string name;
  std::string description;
  std::optional<std::string> audit_log;  // append one JSON line per run (issue 7)
  LandlockMode landlock = LandlockMode::best_effort;
  Process process;
  Limits limits;
  Filesystem filesystem;
  Network network;
  Seccomp seccomp;
  Capabilities capabilities;
  Namespaces namespaces;
  std::optional<Workspace> workspace;  // none unless asked for
};

const char* to_string(MountType type);
const char* to_string(NetworkMode mode);
const char* to_string(SeccompAction action);
const char* to_string(LandlockMode mode);    // "off" | "best-effort" | "required"
const char* to_string(WorkspaceMode mode);   // "ro" | "rw" | "overlay"

}  // namespace aj::policy
