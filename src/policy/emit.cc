// The canonical text of an effective policy. Fixed key order, every key written (defaults
// included), one spelling per value (the largest exact unit), so that the text is a stable
// identity: `agentjail check` prints it, the report's policy.sha256 hashes it, and
// emit -> load_text -> emit gives the same bytes.
#include "policy/emit.h"

#include <nettle/sha2.h>

#include <fmt/format.h>

#include <sstream>
#include <toml++/toml.h>

#include "limits/table.h"
#include "policy/checks.h"
#include "policy/units.h"

namespace aj::policy {
namespace {

// A TOML basic string, escaped by toml++ (UTF-8 kept as is, control characters escaped).
std::string str(std::string_view text) {
  std::ostringstream out;
  out << toml::toml_formatter{toml::value<std::string>(std::string(text)), toml::format_flags::allow_unicode_strings};
  return out.str();
}

// A bare key when TOML allows one, else a quoted key.
std::string key(std::string_view name) {
  bool bare = !name.empty();
  for (unsigned char c : name) bare = bare && (std::isalnum(c) || c == '_' || c == '-');
  return bare ? std::string(name) : str(name);
}

std::string strings(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + str(items[i]);
  return out + "]";
}

std::string boolean(bool value) { return value ? "true" : "false"; }

// Bytes: an integer when no binary unit divides it, else "64MiB". TOML integers stop at 2^63 - 1;
// a larger count of bytes without a unit stays a string of digits, which reads back the same.
std::string size(uint64_t bytes) {
  std::string text = format_size(bytes);
  const bool digits = text.find_first_not_of("0123456789") == std::string::npos;
  return digits && bytes <= static_cast<uint64_t>(INT64_MAX) ? text : str(text);
}

// A limit's value in its canonical spelling: sizes as size(), durations in their largest exact
// unit, counts as integers, CPUs as a float, "unlimited" as that string.
std::string limit_value(const limits::Row& row, const limits::Value& value) {
  if (!value) return str("unlimited");
  if (const double* cpus = std::get_if<double>(&*value)) {
    std::string text = fmt::format("{}", *cpus);  // shortest text that reads back as the same double
    if (text.find_first_of(".e") == std::string::npos) text += ".0";
    return text;
  }
  const uint64_t number = std::get<uint64_t>(*value);
  switch (row.kind) {
    case limits::Kind::size: return size(number);
    case limits::Kind::duration: return str(format_duration(number));
    case limits::Kind::count:
    case limits::Kind::cpus: break;
  }
  return fmt::format("{}", number);
}

std::string errno_value(int value) {
  if (auto name = errno_name(value)) return str(*name);
  return fmt::format("{}", value);
}

void line(std::string& out, std::string_view name, const std::string& value) {
  out += fmt::format("{} = {}\n", name, value);
}

void emit_mount(std::string& out, const Mount& m) {
  out += "\n[[filesystem.mount]]\n";
  line(out, "type", str(to_string(m.type)));
  switch (m.type) {
    case MountType::bind:
      line(out, "source", str(m.source));
      line(out, "target", str(m.target));
      line(out, "read_only", boolean(m.read_only));
      line(out, "optional", boolean(m.optional));
      line(out, "exec", boolean(m.exec));
      if (m.unsafe_host_kernel_fs) line(out, "unsafe_host_kernel_fs", boolean(true));
      break;
    case MountType::tmpfs:
      line(out, "target", str(m.target));
      // No size means the kernel's default (half of RAM): there is no value to write for it.
      if (m.size) line(out, "size", size(*m.size));
      line(out, "mode", str(fmt::format("{:04o}", m.mode.value_or(0755))));
      line(out, "read_only", boolean(m.read_only));
      line(out, "exec", boolean(m.exec));
      break;
    case MountType::proc:
    case MountType::dev: line(out, "target", str(m.target)); break;
    case MountType::symlink:
      line(out, "source", str(m.source));
      line(out, "target", str(m.target));
      break;
    case MountType::file:
      line(out, "target", str(m.target));
      line(out, "content", str(m.content));
      line(out, "read_only", "true");
      line(out, "exec", boolean(m.exec));
      break;
  }
}

nlohmann::json mount_json(const Mount& m) {
  nlohmann::json j = {{"type", to_string(m.type)}, {"target", m.target}};
  switch (m.type) {
    case MountType::bind:
      j["source"] = m.source;
      j["read_only"] = m.read_only;
      j["optional"] = m.optional;
      j["exec"] = m.exec;
      if (m.unsafe_host_kernel_fs) j["unsafe_host_kernel_fs"] = true;
      break;
    case MountType::tmpfs:
      j["size_bytes"] = m.size ? nlohmann::json(*m.size) : nlohmann::json(nullptr);
      j["mode"] = fmt::format("{:04o}", m.mode.value_or(0755));
      j["read_only"] = m.read_only;
      j["exec"] = m.exec;
      break;
    case MountType::proc:
    case MountType::dev: break;
    case MountType::symlink: j["source"] = m.source; break;
    case MountType::file:
      j["content"] = m.content;
      j["read_only"] = true;
      j["exec"] = m.exec;
      break;
  }
  return j;
}

template <class T>
nlohmann::json or_null(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json network_json(const Network& n) {
  nlohmann::json j = {{"mode", to_string(n.mode)}};
  if (n.mode != NetworkMode::allowlist) return j;
  j["allow"] = n.allow;
  j["resolve"] = n.resolve;
  j["max_connections"] = or_null(n.max_connections);
  j["max_bytes"] = or_null(n.max_bytes);
  return j;
}

}  // namespace

std::string to_toml(const Policy& p) {
  std::string out;
  line(out, "version", fmt::format("{}", p.version));
  line(out, "name", str(p.name));
  line(out, "description", str(p.description));
  if (p.audit_log) line(out, "audit_log", str(*p.audit_log));
  line(out, "landlock", str(to_string(p.landlock)));

  out += "\n[process]\n";
  line(out, "cwd", str(p.process.cwd));
  line(out, "hostname", str(p.process.hostname));
  line(out, "user", fmt::format("{}", p.process.user));
  line(out, "group", fmt::format("{}", p.process.group));
  // Unset (a uid leased per jail) has no TOML spelling: the keys are left out.
  if (p.process.host_user) line(out, "host_user", fmt::format("{}", *p.process.host_user));
  if (p.process.host_group) line(out, "host_group", fmt::format("{}", *p.process.host_group));
  line(out, "pass_env", strings(p.process.pass_env));
  line(out, "new_session", boolean(p.process.new_session));
  line(out, "umask", str(fmt::format("{:03o}", p.process.umask)));
  out += "\n[process.env]\n";
  for (const auto& [name, value] : p.process.env) line(out, key(name), str(value));

  out += "\n[limits]\n";
  for (const auto& row : limits::kTable) line(out, row.key, limit_value(row, limits::get(p.limits, row)));

  out += "\n[network]\n";
  line(out, "mode", str(to_string(p.network.mode)));
  if (p.network.mode == NetworkMode::allowlist) {
    // The allowlist keys exist only in this mode (anywhere else they are an error).
    line(out, "allow", strings(p.network.allow));
    std::string resolve = "{";
    for (const auto& [name, address] : p.network.resolve)
      resolve += fmt::format("{} {} = {}", resolve.size() > 1 ? "," : "", key(name), str(address));
    line(out, "resolve", resolve + (p.network.resolve.empty() ? "}" : " }"));
    line(out, "max_connections", p.network.max_connections ? fmt::format("{}", *p.network.max_connections)
                                                           : str("unlimited"));
    line(out, "max_bytes", p.network.max_bytes ? size(*p.network.max_bytes) : str("unlimited"));
  }

  out += "\n[seccomp]\n";
  line(out, "default_action", str(to_string(p.seccomp.default_action)));
  line(out, "errno", errno_value(p.seccomp.errno_value));
  line(out, "allow", strings(p.seccomp.allow));
  line(out, "deny", strings(p.seccomp.deny));
  line(out, "notify", boolean(p.seccomp.notify));

  out += "\n[capabilities]\n";
  line(out, "keep", strings(p.capabilities.keep));

  const Namespaces& ns = p.namespaces;
  out += "\n[namespaces]\n";
  line(out, "user", boolean(ns.user));
  line(out, "mount", boolean(ns.mount));
  line(out, "pid", boolean(ns.pid));
  line(out, "ipc", boolean(ns.ipc));
  line(out, "uts", boolean(ns.uts));
  line(out, "net", boolean(ns.net));
  line(out, "cgroup", boolean(ns.cgroup));

  if (p.workspace) {
    out += "\n[workspace]\n";
    line(out, "source", str(p.workspace->source));
    line(out, "target", str(p.workspace->target));
    line(out, "mode", str(to_string(p.workspace->mode)));
    line(out, "keep_changes", str(p.workspace->keep_changes));
  }

  // Mounts last: an array of tables ends the document, and they read best as a list.
  out += "\n[filesystem]\n";
  if (p.filesystem.mounts.empty()) line(out, "mount", "[]");
  for (const auto& mount : p.filesystem.mounts) emit_mount(out, mount);
  return out;
}

nlohmann::json to_json(const limits::Value& value) {
  if (!value) return nullptr;
  return std::visit([](auto number) { return nlohmann::json(number); }, *value);
}

nlohmann::json to_json(const Policy& p) {
  nlohmann::json limits = nlohmann::json::object();
  for (const auto& row : limits::kTable) limits[std::string(row.json_key)] = to_json(limits::get(p.limits, row));
  nlohmann::json mounts = nlohmann::json::array();
  for (const auto& mount : p.filesystem.mounts) mounts.push_back(mount_json(mount));
  auto errno_json = [](int value) {
    auto name = errno_name(value);
    return name ? nlohmann::json(*name) : nlohmann::json(value);
  };
  nlohmann::json workspace = nullptr;
  if (p.workspace)
    workspace = {{"source", p.workspace->source},
                 {"target", p.workspace->target},
                 {"mode", to_string(p.workspace->mode)},
                 {"keep_changes", p.workspace->keep_changes}};
  return {
      {"version", p.version},
      {"name", p.name},
      {"description", p.description},
      {"audit_log", or_null(p.audit_log)},
      {"landlock", to_string(p.landlock)},
      {"process",
       {{"cwd", p.process.cwd},
        {"hostname", p.process.hostname},
        {"user", p.process.user},
        {"group", p.process.group},
        {"host_user", or_null(p.process.host_user)},
        {"host_group", or_null(p.process.host_group)},
        {"env", p.process.env},
        {"pass_env", p.process.pass_env},
        {"new_session", p.process.new_session},
        {"umask", fmt::format("{:03o}", p.process.umask)}}},
      {"limits", limits},
      {"filesystem", {{"mount", mounts}}},
      {"network", network_json(p.network)},
      {"seccomp",
       {{"default_action", to_string(p.seccomp.default_action)},
        {"errno", errno_json(p.seccomp.errno_value)},
        {"allow", p.seccomp.allow},
        {"deny", p.seccomp.deny},
        {"notify", p.seccomp.notify}}},
      {"capabilities", {{"keep", p.capabilities.keep}}},
      {"namespaces",
       {{"user", p.namespaces.user},
        {"mount", p.namespaces.mount},
        {"pid", p.namespaces.pid},
        {"ipc", p.namespaces.ipc},
        {"uts", p.namespaces.uts},
        {"net", p.namespaces.net},
        {"cgroup", p.namespaces.cgroup}}},
      {"workspace", workspace},
  };
}

std::string sha256_hex(const Policy& policy) {
  const std::string text = to_toml(policy);
  sha256_ctx context;
  sha256_init(&context);
  sha256_update(&context, text.size(), reinterpret_cast<const uint8_t*>(text.data()));
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&context, sizeof digest, digest);
  std::string hex;
  for (uint8_t byte : digest) hex += fmt::format("{:02x}", byte);
  return hex;
}

}  // namespace aj::policy
