#include "policy/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "policy/checks.h"

namespace aj::policy {
namespace {

struct Checker {
  Diagnostics& out;
  size_t before = out.size();

  void problem(std::string key, const Problem& problem, const SourcePos& pos = {}) {
    if (!problem) return;
    out.push_back(Diagnostic{.file = pos.file,
                             .line = pos.line,
                             .column = pos.column,
                             .key = key,
                             .message = fmt::format("{}: {}", key, *problem),
                             .hint = {}});
  }
  void require(std::string key, bool ok, std::string why, const SourcePos& pos = {}) {
    if (!ok) problem(std::move(key), why, pos);
  }
};

void check_process(Checker& c, const Process& p) {
  c.problem("process.cwd", check_absolute(p.cwd));
  c.problem("process.hostname", check_hostname(p.hostname));
  c.require("process.user", p.user != UINT32_MAX, "4294967295 is not a valid uid");
  c.require("process.group", p.group != UINT32_MAX, "4294967295 is not a valid gid");
  c.require("process.host_user", p.host_user != 0 && p.host_user != UINT32_MAX, "must be a host uid other than 0");
  c.require("process.host_group", p.host_group != 0 && p.host_group != UINT32_MAX, "must be a host gid other than 0");
  for (const auto& [name, value] : p.env) {
    c.problem("process.env", check_env_name(name));
    c.problem("process.env." + name, check_env_value(value));
  }
  for (const auto& name : p.pass_env) c.problem("process.pass_env", check_env_name(name));
  c.require("process.umask", p.umask <= 0777, "must be at most 0o777");
}

void check_limits(Checker& c, const Limits& l) {
  auto positive = [&](const char* key, const std::optional<uint64_t>& value) {
    c.require(fmt::format("limits.{}", key), !value || *value > 0, "must not be 0 (\"unlimited\" means no limit)");
  };
  positive("wall_time", l.wall_time_ms);
  positive("cpu_time", l.cpu_time_ms);
  positive("memory", l.memory_bytes);
  positive("pids", l.pids);
  positive("open_files", l.open_files);
  positive("stack", l.stack_bytes);
  c.require("limits.cpus", !l.cpus || (*l.cpus >= 0.01 && *l.cpus <= 1024), "must be between 0.01 and 1024");
}

void check_mounts(Checker& c, const Filesystem& fs) {
  std::set<std::string> targets;
  for (const auto& m : fs.mounts) {
    c.problem("filesystem.mount.target", check_target(m.target), m.pos);
    c.require("filesystem.mount.target", m.target == normalize_target(m.target),
              fmt::format("{} is not in normal form", aj::quoted(m.target)), m.pos);
    c.require("filesystem.mount.target", targets.insert(m.target).second,
              fmt::format("duplicate target {}", aj::quoted(m.target)), m.pos);
    switch (m.type) {
      case MountType::bind: c.problem("filesystem.mount.source", check_absolute(m.source), m.pos); break;
      case MountType::tmpfs:
        c.require("filesystem.mount.mode", !m.mode || *m.mode <= 07777, "must be at most 0o7777", m.pos);
        c.require("filesystem.mount.size", !m.size || *m.size > 0, "must not be 0", m.pos);
        break;
      case MountType::symlink:
        c.require("filesystem.mount.source", !m.source.empty(), "a symlink needs its link text", m.pos);
        break;
      case MountType::file: c.require("filesystem.mount.read_only", m.read_only, "a file mount is read-only", m.pos); break;
      case MountType::proc:
      case MountType::dev: break;
    }
  }
}

void check_seccomp(Checker& c, const Seccomp& s) {
  c.require("seccomp.errno", s.errno_value >= 1 && s.errno_value <= 4095, "must be between 1 and 4095");
  for (auto [key, list] : {std::pair{"seccomp.allow", &s.allow}, std::pair{"seccomp.deny", &s.deny}})
    for (const auto& entry : *list) {
      std::string hint;
      c.problem(key, check_syscall_entry(entry, hint));
    }
}

void check_capabilities(Checker& c, const Capabilities& caps) {
  std::set<std::string> seen;
  for (const auto& name : caps.keep) {
    c.require("capabilities.keep", capability_name(name) == name, fmt::format("{} is not a normalized capability name", aj::quoted(name)));
    c.require("capabilities.keep", capability_is_safe(name), fmt::format("{} is not safe to keep in a jail", aj::quoted(name)));
    c.require("capabilities.keep", seen.insert(name).second, fmt::format("{} is listed twice", aj::quoted(name)));
  }
}

}  // namespace

bool validate(const Policy& policy, Diagnostics& diagnostics) {
  Checker c{diagnostics};
  c.require("version", policy.version == 1, "must be 1");
  c.require("name", !policy.name.empty(), "must not be empty");
  if (policy.audit_log) c.problem("audit_log", check_absolute(*policy.audit_log));
  check_process(c, policy.process);
  check_limits(c, policy.limits);
  check_mounts(c, policy.filesystem);
  check_seccomp(c, policy.seccomp);
  check_capabilities(c, policy.capabilities);
  const auto& ns = policy.namespaces;
  c.require("namespaces", ns.user && ns.mount && ns.pid, "user, mount and pid namespaces cannot be turned off");
  c.require("namespaces.net", ns.net == (policy.network.mode != NetworkMode::host),
            fmt::format("must be {} with network.mode = {}", policy.network.mode != NetworkMode::host,
                        aj::quoted(to_string(policy.network.mode))));
  return diagnostics.size() == c.before;
}

}  // namespace aj::policy
