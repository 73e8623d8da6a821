// Internal to src/cgroup: the directories a JailCgroup owns and the file operations on them.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cgroup/cgroup.h"
#include "sys/fd.h"

namespace aj::cgroup::detail {

// One jail directory in one hierarchy, held open and flock()ed for the jail's lifetime.
struct Dir {
  std::string path;
  sys::UniqueFd fd;
  std::vector<std::string> controllers;  // v1: the controllers of this hierarchy the jail uses
};

struct Layout {
  CgroupKind kind = CgroupKind::none;
  std::vector<Dir> dirs;  // v2: exactly one; v1: one per distinct hierarchy
  int memory = -1, pids = -1, cpu = -1, cpuacct = -1;  // index into dirs of each controller's directory
  bool clone_into = false;  // v2 and CLONE_INTO_CGROUP available
  bool has_kill = false;    // v2 cgroup.kill exists
  // v2, when agentjail had to leave its own cgroup (`base`) to enable controllers there: the
  // leaf it moved into and the controllers it enabled, undone by restore_self() at the end.
  std::optional<Dir> self_leaf;
  std::string base;
  std::vector<std::string> enabled_by_us;
};

// flock(fd, LOCK_EX | LOCK_NB): true when we now hold the lock.
bool try_lock(int fd);
// mkdir `parent`/`name` (0755), open it and take its lock. EEXIST is an error: names are unique.
Result<Dir> make_dir(const std::string& parent, const std::string& name);
// Writes one control file of `dir` in a single write(2); the error names file and value.
Status write_knob(const Dir& dir, const char* file, std::string_view value);
// Reads one control file of `dir`; nullopt when it does not exist or cannot be read.
std::optional<std::string> read_knob(const Dir& dir, const char* file);
bool has_knob(const Dir& dir, const char* file);
// SIGKILLs every process listed in `dir`'s cgroup.procs until it is empty, through pidfds
// checked against a second read so a recycled pid is never signalled. Bounded in time.
Status kill_listed(const Dir& dir);
// Waits (bounded) until cgroup.procs of `dir` is empty.
Status wait_empty(const Dir& dir);
// rmdir, retrying briefly while the kernel still counts exiting tasks (EBUSY). ENOENT is success.
Status remove_dir(const std::string& path);

// Creates the jail's cgroup(s) into `layout` (directories are recorded as soon as they exist,
// so the owner removes them on any later failure).
Status create_v2(Layout& layout, const std::string& name, const Limits& limits, const plan::CgroupPlan& enforcement,
                 const host::Host& host);
Status create_v1(Layout& layout, const std::string& name, const Limits& limits, const plan::CgroupPlan& enforcement,
                 const host::Host& host);

// After the jail's directory is gone: disables what create_v2 enabled in our own cgroup, moves
// agentjail back into it and removes the leaf, but only when nothing else lives below it
// (another cgroup there may depend on those controllers). Otherwise the leaf stays.
Status restore_self(Layout& layout);

// Whole-jail CPU time in ms and the end-of-run usage, per hierarchy kind.
std::optional<double> cpu_ms_v2(const Layout& layout);
std::optional<double> cpu_ms_v1(const Layout& layout);
Usage usage_v2(const Layout& layout);
Usage usage_v1(const Layout& layout);

}  // namespace aj::cgroup::detail
