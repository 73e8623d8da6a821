#include "policy/decode.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/strings.h"
#include "limits/table.h"
#include "policy/checks.h"
#include "policy/limit_value.h"

namespace aj::policy::detail {
namespace {

constexpr uint32_t kMaxId = 4294967294;  // (uid_t)-1 means "no change" to the kernel

const std::vector<std::string> kSeccompActions = {"errno", "kill", "log"};
const std::vector<std::string> kLandlockModes = {"off", "best-effort", "required"};
const std::vector<std::string> kWorkspaceModes = {"ro", "rw", "overlay"};

Problem no_control_characters(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
  return std::nullopt;
}

// Runs `decode_section` on [name] when it is present and a table.
template <class Fn>
void section(TableReader& top, std::string_view name, Fn&& decode_section) {
  const toml::node* node = top.get(name);
  if (!node) return;
  const auto* table = node->as_table();
  if (!table) {
    top.error(*node, name, fmt::format("expected a table, got {}", type_phrase(*node)));
    return;
  }
  TableReader reader(*table, std::string(name), top.out());
  decode_section(reader);
  reader.finish();
}

void decode_env(TableReader& process, std::map<std::string, std::string>& env) {
  const toml::node* node = process.get("env");
  if (!node) return;
  const auto* table = node->as_table();
  if (!table) {
    process.error(*node, "env", fmt::format("expected a table of strings, got {}", type_phrase(*node)));
    return;
  }
  for (const auto& [key, value] : *table) {
    const std::string path = fmt::format("process.env.{}", key.str());
    if (auto problem = check_env_name(key.str())) {
      report(process.out(), key.source(), path, fmt::format("process.env: {}", *problem));
      continue;
    }
    const auto* text = value.as_string();
    if (!text) {
      report(process.out(), value.source(), path,
             fmt::format("{}: expected a string, got {}", path, type_phrase(value)));
      continue;
    }
    if (auto problem = check_env_value(text->get())) {
      report(process.out(), value.source(), path, fmt::format("{}: {}", path, *problem));
      continue;
    }
    env[std::string(key.str())] = text->get();
  }
}

void decode_process(TableReader& reader, Process& process) {
  read_string(reader, "cwd", process.cwd, check_absolute);
  read_string(reader, "hostname", process.hostname, check_hostname);
  read_integer(reader, "user", process.user, 0, kMaxId);
  read_integer(reader, "group", process.group, 0, kMaxId);
  // Host id 0 would make the jail's user host root the moment agentjail runs as root.
  for (auto [key, field] : {std::pair{"host_user", &process.host_user}, std::pair{"host_group", &process.host_group}}) {
    const toml::node* node = reader.get(key);
    if (node && node->as_integer() && node->as_integer()->get() == 0) {
      reader.error(*node, key, "0 would map the jail to host root, which agentjail never does");
      continue;
    }
    uint32_t id = 0;
    if (reader.get(key) && read_integer(reader, key, id, 1, kMaxId)) *field = id;
  }
  decode_env(reader, process.env);
  read_strings(reader, "pass_env", process.pass_env, check_env_name);
  read_bool(reader, "new_session", process.new_session);
  read_mode(reader, "umask", process.umask, 0777, "022");
}

// A host path of [workspace]: relative ones (".") are the caller's working directory's.
Problem check_host_path(std::string_view path) {
  if (path.empty()) return "must not be empty";
  if (path.size() > 4095) return "is longer than PATH_MAX (4095 bytes)";
  return no_control_characters(path);
}

void decode_workspace(TableReader& reader, const toml::table& table, std::optional<Workspace>& out) {
  Workspace workspace = out.value_or(Workspace{});
  workspace.pos = position(table.source());
  read_string(reader, "source", workspace.source, check_host_path);
  read_string(reader, "target", workspace.target, check_target);
  if (auto mode = read_choice(reader, "mode", kWorkspaceModes))
    workspace.mode = std::array{WorkspaceMode::ro, WorkspaceMode::rw, WorkspaceMode::overlay}[*mode];
  read_string(reader, "keep_changes", workspace.keep_changes, [](std::string_view path) -> Problem {
    return path.empty() ? std::nullopt : check_host_path(path);
  });
  if (workspace.source.empty() && !table.get("source"))
    reader.error(table, "source", "a [workspace] needs a source (a host directory; \".\" is the caller's working "
                                  "directory)");
  out = std::move(workspace);
}

// Every row of the limits table (limits/table.h), each parsed as its row says.
void decode_limits(TableReader& reader, Limits& limits) {
  for (const auto& row : limits::kTable) {
    const toml::node* node = reader.get(row.key);
    if (!node) continue;
    auto value = parse_limit(row, *node);
    if (value)
      limits::set(limits, row, *value);
    else
      reader.error(*node, row.key, std::move(value.error().message), std::move(value.error().hint));
  }
}

void decode_seccomp(TableReader& reader, Seccomp& seccomp) {
  if (auto action = read_choice(reader, "default_action", kSeccompActions))
    seccomp.default_action = std::array{SeccompAction::errno_, SeccompAction::kill, SeccompAction::log}[*action];
  if (const toml::node* node = reader.get("errno")) {
    if (const auto* name = node->as_string()) {
      if (auto value = errno_from_name(name->get()))
        seccomp.errno_value = *value;
      else
        reader.error(*node, "errno", fmt::format("unknown errno name {}", aj::quoted(name->get())),
                     did_you_mean(name->get(), errno_names()));
    } else if (const auto* number = node->as_integer()) {
      // 0 would make refused calls report success; the kernel caps SECCOMP_RET_DATA errnos at 4095.
      if (number->get() >= 1 && number->get() <= 4095)
        seccomp.errno_value = static_cast<int>(number->get());
      else
        reader.error(*node, "errno", fmt::format("{} is out of range (1..4095)", number->get()));
    } else {
      reader.error(*node, "errno",
                   fmt::format("expected an errno name such as \"EPERM\" or a number, got {}", type_phrase(*node)));
    }
  }
  for (auto [key, list] : {std::pair{"allow", &seccomp.allow}, std::pair{"deny", &seccomp.deny}}) {
    const toml::node* node = reader.get(key);
    if (!node) continue;
    const auto* array = node->as_array();
    if (!array) {
      reader.error(*node, key, fmt::format("expected an array of system call names and @sets, got {}", type_phrase(*node)));
      continue;
    }
    std::vector<std::string> entries;
    bool ok = true;
    for (const auto& element : *array) {
      const auto* text = element.as_string();
      std::string hint;
      if (!text) {
        reader.error(element, key, fmt::format("expected a system call name or @set, got {}", type_phrase(element)));
        ok = false;
      } else if (auto problem = check_syscall_entry(text->get(), hint)) {
        reader.error(element, key, *problem, hint);
        ok = false;
      } else {
        entries.push_back(text->get());
      }
    }
    if (ok) *list = std::move(entries);
  }
  read_bool(reader, "notify", seccomp.notify);
}

void decode_capabilities(TableReader& reader, Capabilities& capabilities) {
  const toml::node* node = reader.get("keep");
  if (!node) return;
  const auto* array = node->as_array();
  if (!array) {
    reader.error(*node, "keep", fmt::format("expected an array of capability names, got {}", type_phrase(*node)));
    return;
  }
  std::vector<std::string> keep;
  bool ok = true;
  for (const auto& element : *array) {
    const auto* text = element.as_string();
    if (!text) {
      reader.error(element, "keep", fmt::format("expected a capability name, got {}", type_phrase(element)));
      ok = false;
      continue;
    }
    auto name = capability_name(text->get());
    if (!name) {
      std::string bare = text->get();
      if (lower(bare).starts_with("cap_")) bare.erase(0, 4);
      reader.error(element, "keep", fmt::format("unknown capability {}", aj::quoted(text->get())),
                   did_you_mean(bare, capability_names()));
      ok = false;
    } else if (!capability_is_safe(*name)) {
      std::vector<std::string> safe(safe_capabilities().begin(), safe_capabilities().end());
      reader.error(element, "keep",
                   fmt::format("{} is not safe to keep in a jail (safe: {})", *name, join(safe, ", ")));
      ok = false;
    } else if (std::find(keep.begin(), keep.end(), *name) == keep.end()) {
      keep.push_back(*name);
    }
  }
  if (ok) capabilities.keep = std::move(keep);
}

void decode_namespaces(TableReader& reader, Namespaces& namespaces) {
  // The jail's isolation is built on these three; turning one off is not a weaker jail but none.
  constexpr std::pair<const char*, const char*> kRequired[] = {
      {"user", "agentjail maps ids and drops privileges through the user namespace"},
      {"mount", "the jail's private root and every mount rule need the mount namespace"},
      {"pid", "killing everything left at the end and the jail's /proc need the pid namespace"},
  };
  for (auto [key, why] : kRequired) {
    bool value = true;
    const toml::node* node = reader.table().get(key);
    if (read_bool(reader, key, value) && !value) reader.error(*node, key, fmt::format("cannot be false: {}", why));
  }
  read_bool(reader, "ipc", namespaces.ipc);
  read_bool(reader, "uts", namespaces.uts);
  read_bool(reader, "net", namespaces.net);
  read_bool(reader, "cgroup", namespaces.cgroup);
}

// network.mode = "host" means "share the caller's network namespace"; any other mode needs a
// namespace of its own. An explicit contradicting namespaces.net is an error, not a guess.
void reconcile_network(const toml::table& merged, Policy& policy, Diagnostics& diagnostics) {
  const toml::node* net = merged.at_path("namespaces.net").node();
  const bool host = policy.network.mode == NetworkMode::host;
  if (net && net->is_boolean() && net->as_boolean()->get() == host) {
    report(diagnostics, net->source(), "namespaces.net",
           host ? "namespaces.net: cannot be true with network.mode = \"host\" (the host network is the caller's "
                  "namespace)"
                : fmt::format("namespaces.net: cannot be false with network.mode = \"{}\" (only \"host\" shares the "
                              "caller's network)",
                              to_string(policy.network.mode)));
  }
  policy.namespaces.net = !host;
}

}  // namespace

Policy decode(const toml::table& merged, Diagnostics& diagnostics) {
  Policy policy;
  TableReader top(merged, "", diagnostics);
  if (const toml::node* node = top.get("version")) {
    // Each file's version was checked before the merge; this is the last file's.
    if (auto value = node->value<int64_t>(); value && *value == 1) policy.version = 1;
  }
  read_string(top, "name", policy.name, [](std::string_view name) -> Problem {
    if (name.empty()) return "must not be empty";
    return no_control_characters(name);
  });
  read_string(top, "description", policy.description, no_control_characters);
  top.allow("extends");
  std::string audit_log;
  if (read_string(top, "audit_log", audit_log, check_absolute)) policy.audit_log = audit_log;
  if (auto mode = read_choice(top, "landlock", kLandlockModes))
    policy.landlock = std::array{LandlockMode::off, LandlockMode::best_effort, LandlockMode::required}[*mode];
  section(top, "process", [&](TableReader& reader) { decode_process(reader, policy.process); });
  section(top, "limits", [&](TableReader& reader) { decode_limits(reader, policy.limits); });
  section(top, "filesystem", [&](TableReader& reader) { decode_filesystem(reader, policy.filesystem); });
  section(top, "network", [&](TableReader& reader) { decode_network(reader, policy.network); });
  section(top, "seccomp", [&](TableReader& reader) { decode_seccomp(reader, policy.seccomp); });
  section(top, "capabilities", [&](TableReader& reader) { decode_capabilities(reader, policy.capabilities); });
  section(top, "namespaces", [&](TableReader& reader) { decode_namespaces(reader, policy.namespaces); });
  section(top, "workspace", [&](TableReader& reader) { decode_workspace(reader, reader.table(), policy.workspace); });
  top.finish();
  reconcile_network(merged, policy, diagnostics);
  return policy;
}

}  // namespace aj::policy::detail
