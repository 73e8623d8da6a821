#include "sys/process.h"
#include "serve/api.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/strings.h"
#include "report/report.h"
#include "serve/encoding.h"

namespace aj::serve {
namespace {

constexpr size_t kMaxDepth = 32;  // nesting of arrays and objects in a request body

ApiError bad(std::string message) { return ApiError{400, std::move(message), std::nullopt}; }

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// Refuses bodies nested deeper than any request needs before the JSON parser sees them.
bool nesting_within(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return true;
}

ApiResult<json> parse_object(std::string_view body) {
  if (!nesting_within(body, kMaxDepth)) return std::unexpected(bad(fmt::format("body is nested deeper than {} levels", kMaxDepth)));
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers past a double
    std::string what = e.what();
    if (size_t close = what.find("] "); what.starts_with("[json.exception") && close != std::string::npos)
      what = what.substr(close + 2);
    return std::unexpected(bad("body is not JSON: " + what));
  }
  if (!parsed.is_object()) return std::unexpected(bad("body must be a JSON object"));
  return parsed;
}

// "unknown key "comand" (did you mean "command"?)"
std::optional<ApiError> unknown_keys(const json& object, std::span<const std::string> known, std::string_view where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string message = fmt::format("{}unknown key {}", where, aj::quoted(key));
    if (auto close = closest_match(key, known)) message += fmt::format(" (did you mean {}?)", aj::quoted(*close));
    return bad(message);
  }
  return std::nullopt;
}

bool has_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// A string, or {"base64": "..."}: bytes either way.
ApiResult<std::string> contents(const json& value, std::string_view what) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.size() == 1 && value.contains("base64") && value["base64"].is_string()) {
    if (auto decoded = base64_decode(value["base64"].get_ref<const std::string&>())) return *decoded;
    return std::unexpected(bad(fmt::format("{}: base64 is not valid", what)));
  }
  return std::unexpected(bad(fmt::format("{} must be a string or {{\"base64\": \"...\"}}", what)));
}

ApiResult<std::vector<std::string>> string_array(const json& value, std::string_view what, size_t max) {
  if (!value.is_array()) return std::unexpected(bad(fmt::format("{} must be an array of strings", what)));
  if (value.size() > max) return std::unexpected(bad(fmt::format("{} has more than {} entries", what, max)));
  std::vector<std::string> out;
  out.reserve(value.size());
  for (const json& item : value) {
    if (!item.is_string()) return std::unexpected(bad(fmt::format("{} must be an array of strings", what)));
    out.push_back(item.get<std::string>());
  }
  return out;
}

Status check_command(const std::vector<std::string>& command) {
  if (command.empty()) return fail(0, "command must not be empty");
  if (command[0].empty()) return fail(0, "command[0] must not be empty");
  for (size_t i = 0; i < command.size(); ++i)
    if (has_nul(command[i])) return fail(0, fmt::format("command[{}] contains a NUL byte", i));
  return {};
}

ApiResult<std::map<std::string, std::string>> parse_env(const json& value, const RequestBounds& bounds) {
  if (!value.is_object()) return std::unexpected(bad("env must be an object of strings"));
  if (value.size() > bounds.max_env) return std::unexpected(bad(fmt::format("env has more than {} variables", bounds.max_env)));
  std::map<std::string, std::string> env;
  for (const auto& [name, item] : value.items()) {
    if (name.empty() || name.find('=') != std::string::npos || has_nul(name))
      return std::unexpected(bad(fmt::format("env: {} is not a variable name", aj::quoted(name))));
    if (!item.is_string()) return std::unexpected(bad(fmt::format("env.{} must be a string", name)));
    std::string text = item.get<std::string>();
    if (has_nul(text)) return std::unexpected(bad(fmt::format("env.{} contains a NUL byte", name)));
    env.emplace(name, std::move(text));
  }
  return env;
}

ApiResult<std::map<std::string, std::string>> parse_files(const json& value, const RequestBounds& bounds) {
  if (!value.is_object()) return std::unexpected(bad("files must be an object {path: contents}"));
  if (value.size() > bounds.max_files) return std::unexpected(bad(fmt::format("files has more than {} entries", bounds.max_files)));
  std::map<std::string, std::string> files;
  uint64_t total = 0;
  for (const auto& [path, item] : value.items()) {
    if (auto problem = path_problem(path, bounds.max_path))
      return std::unexpected(bad(fmt::format("files: {}: {}", aj::quoted(path), *problem)));
    auto bytes = contents(item, "files." + path);
    if (!bytes) return std::unexpected(bytes.error());
    total += bytes->size();
    if (total > bounds.max_files_bytes)
      return std::unexpected(ApiError{413, fmt::format("files hold more than {} bytes", bounds.max_files_bytes), std::nullopt});
    files.emplace(path, std::move(*bytes));
  }
  // A file below another file's path could never be written.
  for (auto it = files.begin(); it != files.end(); ++it) {
    auto next = std::next(it);
    if (next != files.end() && next->first.starts_with(it->first + "/"))
      return std::unexpected(bad(fmt::format("files: {} is inside the file {}", aj::quoted(next->first), aj::quoted(it->first))));
  }
  return files;
}

ApiResult<std::vector<std::string>> parse_collect(const json& value, const RequestBounds& bounds) {
  auto paths = string_array(value, "collect", bounds.max_collect);
  if (!paths) return paths;
  std::vector<std::string> seen;
  for (const std::string& path : *paths) {
    if (auto problem = path_problem(path, bounds.max_path))
      return std::unexpected(bad(fmt::format("collect: {}: {}", aj::quoted(path), *problem)));
    if (std::find(seen.begin(), seen.end(), path) != seen.end())
      return std::unexpected(bad(fmt::format("collect: {} is listed twice", aj::quoted(path))));
    seen.push_back(path);
  }
  return paths;
}

// The policy a request names: one of the catalog, or the client's own TOML.
ApiResult<std::pair<std::string, Limits>> resolve_policy(const json* value, const ParseOptions& options,
                                                         std::optional<std::string>& toml) {
  if (!value || value->is_string()) {
    std::string name = value ? value->get<std::string>() : options.default_policy;
    if (name.empty()) return std::unexpected(bad("policy is missing and the server has no default"));
    auto found = options.policies ? options.policies->find(name) : PolicyCatalog::const_iterator{};
    if (!options.policies || found == options.policies->end()) {
      std::vector<std::string> names;
      if (options.policies)
        for (const auto& [known, limits] : *options.policies) names.push_back(known);
      return std::unexpected(ApiError{404, fmt::format("unknown policy {} (this server has: {})", aj::quoted(name), join(names, ", ")),
                                      std::nullopt});
    }
    return std::pair{found->first, found->second};
  }
  if (value->is_object() && value->size() == 1 && value->contains("toml") && (*value)["toml"].is_string()) {
    if (!options.client_policies)
      return std::unexpected(ApiError{403, "this server runs only its own policies (see --allow-client-policies)", std::nullopt});
    toml = (*value)["toml"].get<std::string>();
    auto loaded = options.client_policies(*toml);
    if (!loaded) return std::unexpected(bad("policy: " + loaded.error().message));
    return std::pair{loaded->name, loaded->limits};
  }
  return std::unexpected(bad("policy must be a policy name or {\"toml\": \"...\"}"));
}

}  // namespace

bool valid_run_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::optional<std::string> path_problem(std::string_view path, size_t max) {
  if (path.empty() || path[0] != '/') return "must be an absolute path";
  if (path.size() > max) return fmt::format("is longer than {} bytes", max);
  if (has_nul(path)) return "contains a NUL byte";
  if (path == "/") return "must name a file, not /";
  if (path.back() == '/') return "must not end in /";
  for (const std::string& component : split(path.substr(1), '/')) {
    if (component.empty()) return "must not contain //";
    if (component == "." || component == "..") return "must not contain . or .. components";
    if (component.size() > 255) return "has a component longer than 255 bytes";
  }
  return std::nullopt;
}

ApiResult<RunRequest> parse_run_request(std::string_view body, const ParseOptions& options) {
  static const std::vector<std::string> kKeys = {"id",    "policy", "command", "stdin",
                                                 "env",   "files",  "collect", "limits"};
  auto parsed = parse_object(body);
  if (!parsed) return std::unexpected(parsed.error());
  const json& object = *parsed;
  if (auto unknown = unknown_keys(object, kKeys, "")) return std::unexpected(*unknown);

  RunRequest request;
  if (object.contains("id")) {
    const json& id = object["id"];
    if (!id.is_string() || !valid_run_id(id.get_ref<const std::string&>()))
      return std::unexpected(bad("id must be 1 to 64 letters, digits, '_' or '-'"));
    request.id = id.get<std::string>();
    request.client_id = true;
  }

  auto policy = resolve_policy(object.contains("policy") ? &object["policy"] : nullptr, options, request.policy_toml);
  if (!policy) return std::unexpected(policy.error());
  request.policy = policy->first;

  if (!object.contains("command")) return std::unexpected(bad("command is missing (an array of strings)"));
  auto command = string_array(object["command"], "command", options.bounds.max_command_args);
  if (!command) return std::unexpected(command.error());
  if (auto checked = check_command(*command); !checked) return std::unexpected(bad(checked.error().message));
  request.command = std::move(*command);

  if (object.contains("stdin") && !object["stdin"].is_null()) {
    auto bytes = contents(object["stdin"], "stdin");
    if (!bytes) return std::unexpected(bytes.error());
    request.stdin_data = std::move(*bytes);
  }
  if (object.contains("env")) {
    auto env = parse_env(object["env"], options.bounds);
    if (!env) return std::unexpected(env.error());
    request.env = std::move(*env);
  }
  if (object.contains("files")) {
    auto files = parse_files(object["files"], options.bounds);
    if (!files) return std::unexpected(files.error());
    request.files = std::move(*files);
  }
  if (object.contains("collect")) {
    auto collect = parse_collect(object["collect"], options.bounds);
    if (!collect) return std::unexpected(collect.error());
    request.collect = std::move(*collect);
  }
  request.limits = policy->second;
  if (object.contains("limits")) {
    auto limits = tighten(policy->second, object["limits"]);
    if (!limits) return std::unexpected(bad(limits.error().message));
    request.limits = *limits;
  }
  return request;
}

std::string error_body(std::string_view message) {
  std::string line;
  for (char c : message) {
    if (c == '\n') line += "; ";
    else if (c != '\r') line += c;
  }
  return dump(json{{"error", line}});
}

json file_json(const std::optional<std::string>& contents) {
  if (!contents) return nullptr;
  if (is_utf8(*contents)) return *contents;
  return json{{"base64", base64_encode(*contents)}};
}

json run_response(json report, uid_t caller_uid, const CollectedFiles& files, bool collected) {
  report["caller_uid"] = caller_uid;
  if (collected) {
    json out = json::object();
    for (const auto& [path, contents] : files) out[path] = file_json(contents);
    report["files"] = std::move(out);
  }
  return report;
}

std::string ndjson_line(const json& value) { return dump(value) + "\n"; }

json health_body(const std::map<std::string, PoolState>& pools) {
  json out = json::object();
  for (const auto& [name, state] : pools) out[name] = json{{"ready", state.ready}, {"target", state.target}};
  return json{{"ok", true}, {"pools", std::move(out)}};
}

ApiResult<RunRequest> parse_execute_request(std::string_view body, const ParseOptions& options) {
  static const std::vector<std::string> kKeys = {"command"};
  auto parsed = parse_object(body);
  if (!parsed) return std::unexpected(parsed.error());
  if (auto unknown = unknown_keys(*parsed, kKeys, "")) return std::unexpected(*unknown);
  const json& object = *parsed;
  if (!object.contains("command") || !object["command"].is_string())
    return std::unexpected(bad("command must be a string (a shell command line)"));
  std::string line = object["command"].get<std::string>();
  if (line.empty() || has_nul(line)) return std::unexpected(bad("command must be a non-empty string without NUL bytes"));
  std::optional<std::string> toml;
  auto policy = resolve_policy(nullptr, options, toml);
  if (!policy) return std::unexpected(policy.error());
  RunRequest request;
  request.policy = policy->first;
  request.limits = policy->second;
  request.command = {"/bin/sh", "-c", std::move(line)};
  return request;
}

json execute_response(const json& report) {
  auto text = [&](const char* key) {
    return report.contains(key) && report[key].is_string() ? report[key].get<std::string>() : std::string();
  };
  // The exit status as a shell reports it, as `agentjail run` exits (agentjail(1)).
  int exit_code = 125;
  const std::string status = text("status");
  if (report.contains("exit_code") && report["exit_code"].is_number_integer()) {
    exit_code = report["exit_code"].get<int>();
  } else if (status == "timeout" || status == "cpu_limit") {
    exit_code = 124;
  } else if (const std::string name = text("signal"); !name.empty()) {
    for (int number = 1; number < 65; ++number)
      if (sys::signal_name(number) == name) exit_code = 128 + number;
  }
  std::string stderr_text = text("stderr");
  if (std::string error = text("error"); !error.empty()) stderr_text += (stderr_text.empty() ? "" : "\n") + error;
  return json{{"stdout", text("stdout")}, {"stderr", stderr_text}, {"exit_code", exit_code}};
}

}  // namespace aj::serve
