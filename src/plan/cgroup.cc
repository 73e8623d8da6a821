// decide_cgroup: which cgroup (if any) enforces which limit here, and what falls back to what.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "plan/build.h"
#include "policy/units.h"

namespace aj::plan {
namespace {

constexpr uint64_t kCpuPeriodUs = 100'000;  // the kernel's default CFS period

// What a backend can do for the policy's limits.
struct Cover {
  bool usable = false;
  bool memory = false, pids = false, cpus = false, cpu_time = false;
  int count(const Limits& limits) const {
    return (limits.memory_bytes && memory) + (limits.pids && pids) + (limits.cpus && cpus) +
           (limits.cpu_time_ms && cpu_time);
  }
};

Cover cover_v2(const host::Host& host) {
  const auto& v2 = host.cgroup_v2;
  Cover c;
  c.usable = v2.mounted && v2.writable;
  if (!c.usable) return c;
  c.memory = v2.has("memory");
  c.pids = v2.has("pids");
  c.cpus = v2.has("cpu");
  c.cpu_time = true;  // cpu.stat's usage_usec exists in every non-root cgroup, controller or not
  return c;
}

bool v1_writable(const host::Host& host, const char* controller) {
  auto it = host.cgroup_v1.find(controller);
  return it != host.cgroup_v1.end() && it->second.writable;
}

Cover cover_v1(const host::Host& host) {
  Cover c;
  c.memory = v1_writable(host, "memory");
  c.pids = v1_writable(host, "pids");
  c.cpus = v1_writable(host, "cpu");
  c.cpu_time = v1_writable(host, "cpuacct");
  c.usable = c.memory || c.pids || c.cpus || c.cpu_time;
  return c;
}

std::string v2_reason(const host::Host& host, const char* controller) {
  const auto& v2 = host.cgroup_v2;
  if (!v2.problem.empty()) return "cgroup v2: " + v2.problem;
  return fmt::format("cgroup v2: the {} controller is not delegated to {}", controller, v2.self_dir());
}

std::string v1_reason(const host::Host& host, const char* controller) {
  auto it = host.cgroup_v1.find(controller);
  if (it == host.cgroup_v1.end()) return fmt::format("cgroup v1: no {} hierarchy is mounted", controller);
  if (!it->second.problem.empty()) return "cgroup v1 " + std::string(controller) + ": " + it->second.problem;
  return fmt::format("cgroup v1: {} is not usable", controller);
}

// Why the limit of `v2_controller` (`v1_controller` on cgroup v1) is not enforced by the
// backend chosen.
std::string reason(const host::Host& host, CgroupKind kind, const char* v2_controller, const char* v1_controller) {
  switch (kind) {
    case CgroupKind::v2: return v2_reason(host, v2_controller);
    case CgroupKind::v1: return v1_reason(host, v1_controller);
    case CgroupKind::none: break;
  }
  return "no usable cgroup (" + v2_reason(host, v2_controller) + "; " + v1_reason(host, v1_controller) + ")";
}

std::string cpus_text(double cpus) { return fmt::format("{:g}", cpus); }

}  // namespace

const char* to_string(CgroupKind kind) {
  switch (kind) {
    case CgroupKind::none: return "none";
    case CgroupKind::v1: return "v1";
    case CgroupKind::v2: return "v2";
  }
  return "none";
}

CgroupPlan decide_cgroup(const Limits& limits, const host::Host& host) {
  CgroupPlan e;
  const Cover v2 = cover_v2(host), v1 = cover_v1(host);
  // cgroup v2 whenever it does at least as much as v1: one hierarchy, cgroup.kill, clone into
  // the cgroup. Never a mix of both: the report names one kind.
  Cover chosen;
  if (v2.usable && (!v1.usable || v2.count(limits) >= v1.count(limits))) {
    e.kind = CgroupKind::v2;
    chosen = v2;
  } else if (v1.usable) {
    e.kind = CgroupKind::v1;
    chosen = v1;
  }

  e.memory = limits.memory_bytes && chosen.memory;
  e.pids = limits.pids && chosen.pids;
  e.cpus = limits.cpus && chosen.cpus;
  if (e.cpus) e.cpu_quota = cpu_quota(*limits.cpus);
  e.cpu_time = limits.cpu_time_ms && chosen.cpu_time;
  if (chosen.memory) e.controllers.push_back("memory");
  if (chosen.pids) e.controllers.push_back("pids");
  if (e.cpus) e.controllers.push_back("cpu");
  if (e.kind == CgroupKind::v1 && chosen.cpu_time) e.controllers.push_back("cpuacct");

  if (e.memory) {
    e.memory_swap = e.kind == CgroupKind::v2 ? host.cgroup_v2.swap_accounting : host.cgroup_v1.at("memory").memsw;
    if (!e.memory_swap && host.swap_total_bytes > 0)
      e.warnings.push_back(fmt::format(
          "limits.memory ({}): swap is not accounted in this cgroup ({}), so the jail may also use up to {} of swap",
          policy::format_size(*limits.memory_bytes),
          e.kind == CgroupKind::v2 ? "no memory.swap.max: swap accounting is off" : "no memory.memsw.*",
          policy::format_size(host.swap_total_bytes)));
  } else if (limits.memory_bytes) {
    e.rlimit_as = true;
    e.warnings.push_back(fmt::format(
        "limits.memory ({}): enforced with RLIMIT_AS on each process instead of a cgroup: it caps address space, "
        "not memory in use, for each process separately, and an allocation over it fails instead of the run "
        "ending as memory_limit; {}",
        policy::format_size(*limits.memory_bytes), reason(host, e.kind, "memory", "memory")));
  }

  if (!e.pids && limits.pids) {
    e.rlimit_nproc = true;
    // Verified on 6.x: since 5.14 RLIMIT_NPROC is charged to (user namespace, uid) and checked
    // at the jail's own level, so other processes of the same host uid do not count.
    const char* scope = host.kernel_at_least(5, 14)
                            ? "counts the tasks (threads too) of the jail's user in the jail's own user namespace "
                              "(this jail only, its pid 1 included)"
                            : "counts every process of the jail's host user, this jail's or not (kernel < 5.14)";
    e.warnings.push_back(fmt::format(
        "limits.pids ({}): enforced with RLIMIT_NPROC instead of a cgroup; it {}, and a refused fork is not "
        "recorded, so the run never ends as pids_limit; {}",
        *limits.pids, scope, reason(host, e.kind, "pids", "pids")));
  }

  if (!e.cpus && limits.cpus)
    e.warnings.push_back(fmt::format("limits.cpus ({}): not enforced; {}", cpus_text(*limits.cpus),
                                     reason(host, e.kind, "cpu", "cpu")));

  if (!e.cpu_time && limits.cpu_time_ms)
    e.warnings.push_back(fmt::format(
        "limits.cpu_time ({}): enforced per process with RLIMIT_CPU only, so the jail's processes together may "
        "use more; {}",
        policy::format_duration(*limits.cpu_time_ms),
        reason(host, e.kind, "cpu", "cpuacct")));

  if (e.kind == CgroupKind::v2 && chosen.memory && !host.memory_peak)
    e.notes.push_back("memory.peak_bytes: kernel " + host.kernel +
                      " has no memory.peak (5.19+); the report gives the largest single process's peak RSS");
  if (!chosen.memory)
    e.notes.push_back("memory.peak_bytes: no memory cgroup, so the report gives the largest single process's "
                      "peak RSS (rusage), not the whole jail's");
  if (e.kind == CgroupKind::none)
    e.notes.push_back("cpu: no cgroup, so the report's CPU time covers only processes the jail's pid 1 reaped");
  return e;
}

CpuQuota cpu_quota(double cpus) {
  auto quota = static_cast<uint64_t>(std::llround(cpus * static_cast<double>(kCpuPeriodUs)));
  return {std::max<uint64_t>(quota, 1000), kCpuPeriodUs};  // the kernel's minimum quota is 1 ms
}

}  // namespace aj::plan
