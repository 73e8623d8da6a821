// The jail's cgroups on cgroup v1: one directory per hierarchy, each below our own cgroup there.
#include <unistd.h>

#include <fmt/format.h>

#include "cgroup/parse.h"
#include "cgroup/layout.h"

namespace aj::cgroup::detail {
namespace {

// The jail's directory in the hierarchy of `controller`; co-mounted controllers (cpu,cpuacct)
// share one.
Result<int> dir_for(Layout& layout, const std::string& name, const std::string& controller, const host::Host& host) {
  const auto& hierarchy = host.cgroup_v1.at(controller);
  const std::string parent = hierarchy.self_dir();
  const std::string path = parent + "/" + name;
  for (size_t i = 0; i < layout.dirs.size(); ++i)
    if (layout.dirs[i].path == path) {
      layout.dirs[i].controllers.push_back(controller);
      return static_cast<int>(i);
    }
  auto dir = make_dir(parent, name);
  if (!dir) return std::unexpected(dir.error());
  dir->controllers.push_back(controller);
  layout.dirs.push_back(std::move(*dir));
  return static_cast<int>(layout.dirs.size() - 1);
}

std::optional<uint64_t> number_knob(const Dir& dir, const char* file) {
  auto text = read_knob(dir, file);
  return text ? parse_number(*text) : std::nullopt;
}

}  // namespace

Status create_v1(Layout& layout, const std::string& name, const Limits& limits, const plan::CgroupPlan& enforcement,
                 const host::Host& host) {
  layout.kind = CgroupKind::v1;
  for (const auto& controller : enforcement.controllers) {
    auto index = dir_for(layout, name, controller, host);
    if (!index) return std::unexpected(index.error());
    if (controller == "memory") layout.memory = *index;
    if (controller == "pids") layout.pids = *index;
    if (controller == "cpu") layout.cpu = *index;
    if (controller == "cpuacct") layout.cpuacct = *index;
  }
  if (enforcement.memory) {
    const Dir& dir = layout.dirs[layout.memory];
    const std::string bytes = std::to_string(*limits.memory_bytes);
    if (auto ok = write_knob(dir, "memory.limit_in_bytes", bytes); !ok) return ok;
    // memory+swap equal to memory: no swap at all. Only after the memory limit (memsw >= memory).
    if (enforcement.memory_swap)
      if (auto ok = write_knob(dir, "memory.memsw.limit_in_bytes", bytes); !ok) return ok;
    // v1 counts socket buffers apart from memory.limit_in_bytes: without this a jail on
    // loopback pins any amount of kernel memory in unread TCP queues.
    if (enforcement.memory_tcp)
      if (auto ok = write_knob(dir, "memory.kmem.tcp.limit_in_bytes", bytes); !ok) return ok;
  }
  if (enforcement.pids)
    if (auto ok = write_knob(layout.dirs[layout.pids], "pids.max", std::to_string(*limits.pids)); !ok) return ok;
  if (enforcement.cpus) {
    const Dir& dir = layout.dirs[layout.cpu];
    const plan::CpuQuota& quota = enforcement.cpu_quota;
    if (auto ok = write_knob(dir, "cpu.cfs_period_us", std::to_string(quota.period_us)); !ok) return ok;
    if (auto ok = write_knob(dir, "cpu.cfs_quota_us", std::to_string(quota.quota_us)); !ok) return ok;
  }
  return {};
}

std::optional<double> cpu_ms_v1(const Layout& layout) {
  if (layout.cpuacct < 0) return std::nullopt;
  auto ns = number_knob(layout.dirs[layout.cpuacct], "cpuacct.usage");
  if (!ns) return std::nullopt;
  return static_cast<double>(*ns) / 1e6;
}

Usage usage_v1(const Layout& layout) {
  Usage usage;
  if (layout.cpuacct >= 0) {
    const Dir& dir = layout.dirs[layout.cpuacct];
    auto user_ns = number_knob(dir, "cpuacct.usage_user"), system_ns = number_knob(dir, "cpuacct.usage_sys");
    if (user_ns && system_ns) {
      usage.user_ms = static_cast<double>(*user_ns) / 1e6;
      usage.system_ms = static_cast<double>(*system_ns) / 1e6;
    } else if (auto stat = read_knob(dir, "cpuacct.stat")) {
      // Older kernels: clock ticks (USER_HZ).
      auto keys = parse_keyed(*stat);
      const double ms_per_tick = 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
      if (keys.count("user")) usage.user_ms = static_cast<double>(keys["user"]) * ms_per_tick;
      if (keys.count("system")) usage.system_ms = static_cast<double>(keys["system"]) * ms_per_tick;
    }
    // The user/system split is sampled at timer ticks and can miss half of a short run;
    // cpuacct.usage is exact (and is what cpu_time is enforced on). Keep the split, scale it
    // to the exact total.
    if (auto total = cpu_ms_v1(layout); total && usage.user_ms && usage.system_ms) {
      const double sampled = *usage.user_ms + *usage.system_ms;
      if (sampled > 0) {
        usage.user_ms = *usage.user_ms * *total / sampled;
        usage.system_ms = *usage.system_ms * *total / sampled;
      } else {
        usage.user_ms = *total;  // no tick landed: the split is unknown, the total is not
      }
    }
  }
  if (layout.memory >= 0) {
    const Dir& dir = layout.dirs[layout.memory];
    usage.memory_peak_bytes = number_knob(dir, "memory.max_usage_in_bytes");
    if (auto control = read_knob(dir, "memory.oom_control")) usage.oom_killed = parse_keyed(*control)["oom_kill"] > 0;
  }
  if (layout.pids >= 0) {
    const Dir& dir = layout.dirs[layout.pids];
    usage.pids_peak = number_knob(dir, "pids.peak");
    if (auto events = read_knob(dir, "pids.events")) usage.pids_max_hit = parse_keyed(*events)["max"] > 0;
  }
  return usage;
}

}  // namespace aj::cgroup::detail
