// The jail's cgroup on cgroup v2: one directory below our own cgroup.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fmt/format.h>

#include "base/strings.h"
#include "cgroup/parse.h"
#include "cgroup/layout.h"
#include "host/procfs.h"
#include "sys/files.h"

namespace aj::cgroup::detail {
namespace {

// Controllers can be enabled for children only in a cgroup without processes of its own (the
// no-internal-processes rule; the root is exempt). When agentjail is its cgroup's only process
// it moves itself, and nothing else, into a leaf first (as `systemd-run --scope -p Delegate=yes`
// leaves it); restore_self() undoes all of it at the end.
Status move_self_to_leaf(Layout& layout, const std::string& base, const std::string& name, const host::Host& host) {
  auto listed = sys::read_file(base + "/cgroup.procs");
  if (!listed) return std::unexpected(listed.error());
  auto pids = parse_pids(*listed);
  const pid_t self = ::getpid();
  const auto others = static_cast<size_t>(std::count_if(pids.begin(), pids.end(), [&](pid_t p) { return p != self; }));
  if (others > 0)
    return fail(EBUSY, fmt::format("our cgroup {} holds {} other process(es), so no controller can be enabled for "
                                   "the jail (cgroup v2's no-internal-processes rule) and agentjail moves only "
                                   "itself; {}",
                                   base, others,
                                   host::delegation_hint(host.is_root())));
  auto leaf = make_dir(base, self_leaf_name(name));
  if (!leaf) return std::unexpected(leaf.error());
  layout.self_leaf = std::move(*leaf);
  if (auto ok = write_knob(*layout.self_leaf, "cgroup.procs", std::to_string(self)); !ok)
    return std::unexpected(ok.error().context("move agentjail itself into a leaf"));
  return {};
}

}  // namespace

Status create_v2(Layout& layout, const std::string& name, const Limits& limits, const plan::CgroupPlan& enforcement,
                 const host::Host& host) {
  layout.kind = CgroupKind::v2;
  const std::string base = host.cgroup_v2.self_dir();
  auto enabled_text = sys::read_file(base + "/cgroup.subtree_control");
  if (!enabled_text) return std::unexpected(enabled_text.error());
  const auto enabled = host::words(*enabled_text);
  std::vector<std::string> missing;
  for (const auto& controller : enforcement.controllers)
    if (std::find(enabled.begin(), enabled.end(), controller) == enabled.end()) missing.push_back(controller);
  if (!missing.empty()) {
    if (!host.cgroup_v2.self_is_root) {
      if (auto ok = move_self_to_leaf(layout, base, name, host); !ok) return ok;
      layout.base = base;
    }
    // One controller per write, so an error names the one the kernel refused.
    for (const auto& controller : missing) {
      if (auto ok = sys::write_file(base + "/cgroup.subtree_control", "+" + controller); !ok)
        return std::unexpected(Error{ok.error().code, fmt::format("enable the {} controller in {}/cgroup.subtree_control",
                                                                  controller, base)});
      if (layout.self_leaf) layout.enabled_by_us.push_back(controller);
    }
  }

  auto dir = make_dir(base, name);
  if (!dir) return std::unexpected(dir.error());
  layout.dirs.push_back(std::move(*dir));
  const Dir& jail = layout.dirs.back();
  layout.clone_into = host.clone_into_cgroup;
  layout.has_kill = has_knob(jail, "cgroup.kill");

  if (enforcement.memory) {
    if (auto ok = write_knob(jail, "memory.max", std::to_string(*limits.memory_bytes)); !ok) return ok;
    // Without this the limit only moves the excess to swap.
    if (has_knob(jail, "memory.swap.max"))
      if (auto ok = write_knob(jail, "memory.swap.max", "0"); !ok) return ok;
  }
  if (enforcement.pids)
    if (auto ok = write_knob(jail, "pids.max", std::to_string(*limits.pids)); !ok) return ok;
  if (enforcement.cpus)
    if (auto ok = write_knob(jail, "cpu.max", cpu_max(enforcement.cpu_quota)); !ok) return ok;
  return {};
}

Status restore_self(Layout& layout) {
  if (!layout.self_leaf) return {};
  const std::string leaf_name = layout.self_leaf->path.substr(layout.base.size() + 1);
  DIR* listing = ::opendir(layout.base.c_str());
  if (!listing) return fail_errno("opendir " + layout.base);
  std::vector<std::string> children;
  while (dirent* entry = ::readdir(listing))
    if (entry->d_type == DT_DIR && std::string_view(entry->d_name) != "." && std::string_view(entry->d_name) != "..")
      children.emplace_back(entry->d_name);
  ::closedir(listing);
  if (children.size() != 1 || children[0] != leaf_name)
    return fail(EBUSY, fmt::format("{} stays: other cgroups below {} may need its controllers", leaf_name, layout.base));
  // Disable in reverse order of enabling, then go home: our cgroup may hold processes again.
  for (auto it = layout.enabled_by_us.rbegin(); it != layout.enabled_by_us.rend(); ++it)
    if (auto ok = sys::write_file(layout.base + "/cgroup.subtree_control", "-" + *it); !ok)
      return std::unexpected(ok.error().context("disable " + *it + " in " + layout.base));
  layout.enabled_by_us.clear();
  if (auto ok = sys::write_file(layout.base + "/cgroup.procs", std::to_string(::getpid())); !ok)
    return std::unexpected(ok.error().context("move agentjail back to " + layout.base));
  const std::string path = layout.self_leaf->path;
  layout.self_leaf.reset();
  return remove_dir(path);
}

std::optional<double> cpu_ms_v2(const Layout& layout) {
  auto stat = read_knob(layout.dirs[0], "cpu.stat");
  if (!stat) return std::nullopt;
  auto keys = parse_keyed(*stat);
  auto it = keys.find("usage_usec");
  if (it == keys.end()) return std::nullopt;
  return static_cast<double>(it->second) / 1000.0;
}

Usage usage_v2(const Layout& layout) {
  const Dir& jail = layout.dirs[0];
  Usage usage;
  if (auto stat = read_knob(jail, "cpu.stat")) {
    auto keys = parse_keyed(*stat);
    if (keys.count("user_usec")) usage.user_ms = static_cast<double>(keys["user_usec"]) / 1000.0;
    if (keys.count("system_usec")) usage.system_ms = static_cast<double>(keys["system_usec"]) / 1000.0;
  }
  if (auto peak = read_knob(jail, "memory.peak")) usage.memory_peak_bytes = parse_number(*peak);
  if (auto peak = read_knob(jail, "pids.peak")) usage.pids_peak = parse_number(*peak);
  if (auto events = read_knob(jail, "memory.events")) usage.oom_killed = parse_keyed(*events)["oom_kill"] > 0;
  if (auto events = read_knob(jail, "pids.events")) usage.pids_max_hit = parse_keyed(*events)["max"] > 0;
  return usage;
}

}  // namespace aj::cgroup::detail
