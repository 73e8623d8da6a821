#include "policy/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "limits/table.h"
#include "policy/checks.h"
#include "policy/limit_value.h"
#include "policy/network.h"

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
  c.require("process.host_user", p.host_user.value_or(1) != 0 && p.host_user.value_or(1) != UINT32_MAX,
            "must be a host uid other than 0");
  c.require("process.host_group", p.host_group.value_or(1) != 0 && p.host_group.value_or(1) != UINT32_MAX,
            "must be a host gid other than 0");
  for (const auto& [name, value] : p.env) {
    c.problem("process.env", check_env_name(name));
    c.problem("process.env." + name, check_env_value(value));
  }
  for (const auto& name : p.pass_env) c.problem("process.pass_env", check_env_name(name));
  c.require("process.umask", p.umask <= 0777, "must be at most 0o777");
}

// Each value within its row's bounds (limits/table.h), as the decoder and the overrides make it.
void check_limits(Checker& c, const Limits& l) {
  for (const auto& row : limits::kTable) {
    const limits::Value value = limits::get(l, row);
    if (!value) continue;
    const std::string key = fmt::format("limits.{}", row.key);
    if (const double* cpus = std::get_if<double>(&*value)) {
      c.require(key, *cpus >= std::get<double>(row.min) && *cpus <= std::get<double>(row.max),
                fmt::format("must be between {} and {}", std::get<double>(row.min), std::get<double>(row.max)));
      continue;
    }
    const uint64_t number = std::get<uint64_t>(*value), min = std::get<uint64_t>(row.min);
    const uint64_t max = std::get<uint64_t>(row.max);
    if (number == 0 && min > 0)
      c.problem(key, row.unlimited ? "must not be 0 (\"unlimited\" means no limit)" : "must not be 0");
    else if (number < min)
      c.problem(key, fmt::format("must be at least {}", limit_text(row, limits::Number(min))));
    else if (number > max)
      c.problem(key, fmt::format("must be at most {}", limit_text(row, limits::Number(max))));
  }
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
  if (const auto& ws = policy.workspace) {
    c.require("workspace.source", !ws->source.empty(), "must not be empty", ws->pos);
    c.problem("workspace.target", check_target(ws->target), ws->pos);
    c.require("workspace.target", ws->target != "/", "cannot be / (the jail's root)", ws->pos);
    c.require("workspace.keep_changes", ws->keep_changes.empty() || ws->mode == WorkspaceMode::overlay,
              "needs mode = \"overlay\" (only an overlay has changes to keep)", ws->pos);
  }
  for (auto& [key, problem] : network_problems(policy.network)) c.problem(key, problem);
  const auto& ns = policy.namespaces;
  c.require("namespaces", ns.user && ns.mount && ns.pid, "user, mount and pid namespaces cannot be turned off");
  c.require("namespaces.net", ns.net == (policy.network.mode != NetworkMode::host),
            fmt::format("must be {} with network.mode = {}", policy.network.mode != NetworkMode::host,
                        aj::quoted(to_string(policy.network.mode))));
  return diagnostics.size() == c.before;
}

}  // namespace aj::policy
