#include "policy/overrides.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "base/strings.h"
#include "limits/table.h"
#include "policy/checks.h"
#include "policy/limit_value.h"
#include "policy/network.h"
#include "policy/units.h"
#include "policy/validate.h"

namespace aj::policy {
namespace {

std::string absolute_against(const std::string& cwd, const std::string& path) {
  std::string out = path.front() == '/' ? path : (std::filesystem::path(cwd) / path).string();
  out = std::filesystem::path(out).lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

struct Applier {
  Policy& policy;
  const std::string& caller_cwd;
  Diagnostics& out;

  void problem(std::string_view option, std::string message, std::string hint = {}) {
    out.push_back(Diagnostic{.file = std::string(option), .message = std::move(message), .hint = std::move(hint)});
  }

  // Command-line mounts go where a policy mount with the same target stood, else at the end,
  // as a child policy's entries would (merge.cc).
  void put_mount(Mount mount) {
    auto same = std::find_if(policy.filesystem.mounts.begin(), policy.filesystem.mounts.end(),
                             [&](const Mount& m) { return m.target == mount.target; });
    if (same != policy.filesystem.mounts.end())
      *same = std::move(mount);
    else
      policy.filesystem.mounts.push_back(std::move(mount));
  }

  void bind(std::string_view option, const std::string& spec, bool read_only) {
    // SRC:DST splits at the first ':' (as docker -v does); DST defaults to SRC.
    const size_t colon = spec.find(':');
    std::string source = spec.substr(0, colon);
    if (source.empty()) return problem(option, fmt::format("{}: the source path is empty", aj::quoted(spec)));
    if (source.front() != '/') source = (std::filesystem::path(caller_cwd) / source).string();
    source = std::filesystem::path(source).lexically_normal().string();
    if (source.size() > 1 && source.back() == '/') source.pop_back();
    if (auto bad = check_absolute(source)) return problem(option, fmt::format("{}: source {}", aj::quoted(spec), *bad));
    std::string target = colon == std::string::npos ? source : spec.substr(colon + 1);
    if (auto bad = check_target(target)) return problem(option, fmt::format("{}: target {}", aj::quoted(spec), *bad));
    Mount mount;
    mount.type = MountType::bind;
    mount.source = source;
    mount.target = normalize_target(target);
    mount.read_only = read_only;
    mount.pos = SourcePos{.file = std::string(option)};
    put_mount(std::move(mount));
  }

  void tmpfs(const std::string& spec) {
    const size_t colon = spec.find(':');
    const std::string target = spec.substr(0, colon);
    if (auto bad = check_target(target)) return problem("--tmpfs", fmt::format("{}: target {}", aj::quoted(spec), *bad));
    Mount mount;
    mount.type = MountType::tmpfs;
    mount.target = normalize_target(target);
    mount.read_only = false;
    mount.mode = 01777;  // a scratch directory for whatever uid the jail runs as, like /tmp
    mount.pos = SourcePos{.file = "--tmpfs"};
    if (colon != std::string::npos) {
      auto size = parse_size(spec.substr(colon + 1));
      if (!size) return problem("--tmpfs", size.error().message);
      if (*size == 0) return problem("--tmpfs", fmt::format("{}: a tmpfs size must not be 0", aj::quoted(spec)));
      mount.size = *size;
    }
    put_mount(std::move(mount));
  }

  void env(const std::string& assignment) {
    const size_t equals = assignment.find('=');
    if (equals == std::string::npos)
      return problem("--env", fmt::format("{} is not NAME=VALUE", aj::quoted(assignment)));
    std::string name = assignment.substr(0, equals), value = assignment.substr(equals + 1);
    if (auto bad = check_env_name(name)) return problem("--env", *bad);
    if (auto bad = check_env_value(value)) return problem("--env", *bad);
    policy.process.env[name] = value;
  }

  void net(const std::string& mode) {
    const auto modes = network_mode_names();
    auto found = std::find(modes.begin(), modes.end(), mode);
    if (found == modes.end())
      return problem("--net", fmt::format("{} is not one of none, loopback, host, allowlist", aj::quoted(mode)),
                     did_you_mean(mode, modes));
    policy.network.mode = std::array{NetworkMode::none, NetworkMode::loopback, NetworkMode::host,
                                     NetworkMode::allowlist}[found - modes.begin()];
    // Another mode on the command line drops the policy's allowlist with its mode.
    if (policy.network.mode != NetworkMode::allowlist) clear_allowlist(policy.network);
    // Kept consistent here: only "host" shares the caller's network namespace.
    policy.namespaces.net = policy.network.mode != NetworkMode::host;
  }

  void workspace(const std::optional<std::string>& spec, const std::optional<std::string>& changes) {
    if (spec) {
      Workspace ws = policy.workspace.value_or(Workspace{});
      if (auto bad = parse_workspace_option(*spec, ws)) return problem("--workspace", *bad);
      ws.pos = SourcePos{.file = "--workspace"};
      policy.workspace = std::move(ws);
    }
    if (changes) {
      if (!policy.workspace)
        return problem("--changes", "needs a workspace in overlay mode", "add -w SRC:overlay");
      if (changes->empty()) return problem("--changes", "the directory is empty");
      policy.workspace->keep_changes = *changes;
    }
    if (!policy.workspace) return;
    Workspace& ws = *policy.workspace;
    if (!ws.source.empty()) ws.source = absolute_against(caller_cwd, ws.source);
    if (!ws.keep_changes.empty()) ws.keep_changes = absolute_against(caller_cwd, ws.keep_changes);
  }

  void limit(const limits::Row& row, const std::string& text) {
    auto value = parse_limit(row, text);
    if (!value) return problem(row.option, std::move(value.error().message), std::move(value.error().hint));
    limits::set(policy.limits, row, *value);
  }
};

// The text given for `row`'s option, or null: from `limits`, else from the four fields run.cc
// still binds by hand (see overrides.h).
const std::string* limit_option(const Overrides& overrides, const limits::Row& row) {
  if (row.option.empty()) return nullptr;
  auto found = overrides.limits.find(std::string(row.option));
  return found == overrides.limits.end() ? nullptr : &found->second;
}

}  // namespace

std::optional<std::string> parse_workspace_option(const std::string& spec, Workspace& workspace) {
  static const std::vector<std::string> modes = {"ro", "rw", "overlay"};
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3)
    return fmt::format("{}: expected SRC[:DST][:MODE] (a path with ':' in it cannot be given here; use [workspace] "
                       "in a policy)",
                       aj::quoted(spec));
  if (parts[0].empty()) return fmt::format("{}: the source directory is empty (\".\" is this directory)", aj::quoted(spec));
  for (char c : spec)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return fmt::format("{}: must not contain control characters", aj::quoted(spec));
  std::optional<std::string> target, mode;
  if (parts.size() == 3) {
    target = parts[1];
    mode = parts[2];
  } else if (parts.size() == 2) {
    // SRC:MODE or SRC:DST: a target is absolute, a mode is one of three words.
    if (!parts[1].empty() && parts[1].front() == '/') target = parts[1];
    else mode = parts[1];
  }
  if (mode) {
    auto found = std::find(modes.begin(), modes.end(), *mode);
    if (found == modes.end())
      return fmt::format("{}: {} is neither a target (an absolute path) nor a mode (ro, rw, overlay){}", aj::quoted(spec),
                         aj::quoted(*mode), [&] {
                           std::string hint = did_you_mean(*mode, modes);
                           return hint.empty() ? std::string() : " (" + hint + ")";
                         }());
    workspace.mode = std::array{WorkspaceMode::ro, WorkspaceMode::rw, WorkspaceMode::overlay}[found - modes.begin()];
  }
  if (target) {
    if (auto bad = check_target(*target)) return fmt::format("{}: target {}", aj::quoted(spec), *bad);
    if (normalize_target(*target) == "/") return fmt::format("{}: the target cannot be / (the jail's root)", aj::quoted(spec));
    workspace.target = normalize_target(*target);
  }
  workspace.source = parts[0];
  return std::nullopt;
}

bool apply_overrides(Policy& policy, const Overrides& overrides, const std::string& caller_cwd,
                     Diagnostics& diagnostics) {
  const size_t before = diagnostics.size();
  Applier apply{policy, caller_cwd, diagnostics};
  for (const auto& spec : overrides.ro) apply.bind("--ro", spec, true);
  for (const auto& spec : overrides.rw) apply.bind("--rw", spec, false);
  for (const auto& spec : overrides.tmpfs) apply.tmpfs(spec);
  if (overrides.cwd) {
    if (auto bad = check_absolute(*overrides.cwd))
      apply.problem("--cwd", *bad);
    else
      policy.process.cwd = *overrides.cwd;
    policy.process.cwd_from_option = true;
  }
  apply.workspace(overrides.workspace, overrides.changes);
  for (const auto& assignment : overrides.env) apply.env(assignment);
  if (overrides.net) apply.net(*overrides.net);
  for (const auto& entry : overrides.allow) {
    if (auto bad = check_allow_entry(entry))
      apply.problem("--allow", fmt::format("{}: {}", aj::quoted(entry), *bad));
    else if (policy.network.mode != NetworkMode::allowlist)
      apply.problem("--allow", fmt::format("{}: applies only with network.mode = \"allowlist\"", aj::quoted(entry)),
                    "add --net allowlist");
    else
      policy.network.allow.push_back(entry);
  }
  for (const auto& [option, text] : overrides.limits)
    if (std::none_of(limits::kTable.begin(), limits::kTable.end(), [&](const auto& row) { return row.option == option; }))
      apply.problem(option, "not an option of a limit");
  for (const auto& row : limits::kTable)
    if (const std::string* text = limit_option(overrides, row)) apply.limit(row, *text);
  if (diagnostics.size() != before) return false;
  // The options were each checked above; this catches what only the combination can break.
  return validate(policy, diagnostics);
}

}  // namespace aj::policy
