#include "serve/pool.h"

#include <cstdint>
#include <vector>

namespace aj::serve {
namespace {

json optional_number(const std::optional<uint64_t>& value) { return value ? json(*value) : json(nullptr); }

std::optional<uint64_t> read_optional(const json& value) {
  if (value.is_null()) return std::nullopt;
  return value.get<uint64_t>();
}

}  // namespace

std::optional<std::string> pool_refusal(const RunRequest& request, const Limits& policy_limits) {
  if (request.policy_toml) return "a client's own policy";
  if (!request.files.empty() || !request.collect.empty())
    return "files and collect need a scratch directory mounted before the jail is built";
  if (request.limits.memory_bytes != policy_limits.memory_bytes || request.limits.pids != policy_limits.pids ||
      request.limits.cpus != policy_limits.cpus)
    return "limits.memory, pids and cpus are written into the cgroup when the jail is built";
  return std::nullopt;
}

std::string encode_pooled_request(const RunRequest& request) {
  const Limits& l = request.limits;
  json limits = {{"wall_time_ms", optional_number(l.wall_time_ms)},
                 {"cpu_time_ms", optional_number(l.cpu_time_ms)},
                 {"memory_bytes", optional_number(l.memory_bytes)},
                 {"pids", optional_number(l.pids)},
                 {"cpus", l.cpus ? json(*l.cpus) : json(nullptr)},
                 {"file_size_bytes", optional_number(l.file_size_bytes)},
                 {"open_files", optional_number(l.open_files)},
                 {"stack_bytes", optional_number(l.stack_bytes)},
                 {"core_size_bytes", l.core_size_bytes},
                 {"output_bytes", l.output_bytes}};
  json env = json::array();
  for (const auto& [name, value] : request.env) env.push_back(json::array({json::binary({name.begin(), name.end()}),
                                                                            json::binary({value.begin(), value.end()})}));
  json command = json::array();
  for (const auto& arg : request.command) command.push_back(json::binary({arg.begin(), arg.end()}));
  json message = {{"id", request.id},
                  {"policy", request.policy},
                  {"command", std::move(command)},
                  {"stdin", json::binary({request.stdin_data.begin(), request.stdin_data.end()})},
                  {"env", std::move(env)},
                  {"limits", std::move(limits)},
                  {"caller_uid", request.caller_uid},
                  {"caller_pid", request.caller_pid}};
  std::vector<uint8_t> bytes = json::to_cbor(message);
  return std::string(bytes.begin(), bytes.end());
}

Result<RunRequest> decode_pooled_request(std::string_view bytes) {
  json message = json::from_cbor(bytes.begin(), bytes.end(), true, false);
  if (message.is_discarded() || !message.is_object()) return fail(EPROTO, "malformed pooled request");
  auto text = [](const json& value) {
    const auto& b = value.get_binary();
    return std::string(b.begin(), b.end());
  };
  try {
    RunRequest request;
    request.id = message.at("id").get<std::string>();
    request.policy = message.at("policy").get<std::string>();
    for (const auto& arg : message.at("command")) request.command.push_back(text(arg));
    request.stdin_data = text(message.at("stdin"));
    for (const auto& pair : message.at("env")) request.env[text(pair.at(0))] = text(pair.at(1));
    const json& l = message.at("limits");
    request.limits.wall_time_ms = read_optional(l.at("wall_time_ms"));
    request.limits.cpu_time_ms = read_optional(l.at("cpu_time_ms"));
    request.limits.memory_bytes = read_optional(l.at("memory_bytes"));
    request.limits.pids = read_optional(l.at("pids"));
    request.limits.cpus = l.at("cpus").is_null() ? std::nullopt : std::optional<double>(l.at("cpus").get<double>());
    request.limits.file_size_bytes = read_optional(l.at("file_size_bytes"));
    request.limits.open_files = read_optional(l.at("open_files"));
    request.limits.stack_bytes = read_optional(l.at("stack_bytes"));
    request.limits.core_size_bytes = l.at("core_size_bytes").get<uint64_t>();
    request.limits.output_bytes = l.at("output_bytes").get<uint64_t>();
    request.caller_uid = message.at("caller_uid").get<uid_t>();
    request.caller_pid = message.at("caller_pid").get<pid_t>();
    if (request.command.empty()) return fail(EPROTO, "pooled request without a command");
    return request;
  } catch (const json::exception& error) {
    return fail(EPROTO, std::string("malformed pooled request: ") + error.what());
  }
}

}  // namespace aj::serve
