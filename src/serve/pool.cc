#include "serve/pool.h"

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace aj::serve {
namespace {

json optional_number(const std::optional<uint64_t>& value) { return value ? json(*value) : json(nullptr); }

// The encoder writes every count as an unsigned integer: anything else (a float, whose cast to
// an integer past its range is undefined, a negative number, a string) is a malformed request.
uint64_t read_count(const json& value) {
  if (!value.is_number_unsigned()) throw std::invalid_argument("a count is not an unsigned integer");
  return value.get<uint64_t>();
}

std::optional<uint64_t> read_optional(const json& value) {
  if (value.is_null()) return std::nullopt;
  return read_count(value);
}

std::string read_bytes(const json& value) {
  if (!value.is_binary()) throw std::invalid_argument("a byte string is not one");
  const auto& b = value.get_binary();
  return std::string(b.begin(), b.end());
}

// What execve takes: a C string (no NUL inside), an environment name without '='.
std::string read_c_string(const json& value, const char* what) {
  std::string text = read_bytes(value);
  if (text.find('\0') != std::string::npos) throw std::invalid_argument(std::string("NUL in ") + what);
  return text;
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
  try {
    // Inside the try: even with allow_exceptions = false, nlohmann's CBOR reader throws
    // out_of_range for an array or map whose announced size exceeds max_size() (the fuzzer's
    // find), which would end the worker with an uncaught exception.
    json message = json::from_cbor(bytes.begin(), bytes.end(), true, false);
    if (message.is_discarded() || !message.is_object()) return fail(EPROTO, "malformed pooled request");
    RunRequest request;
    request.id = message.at("id").get<std::string>();
    request.policy = message.at("policy").get<std::string>();
    const json& command = message.at("command");
    const json& env = message.at("env");
    if (!command.is_array() || !env.is_array()) throw std::invalid_argument("command or env is not an array");
    for (const auto& arg : command) request.command.push_back(read_c_string(arg, "the command"));
    request.stdin_data = read_bytes(message.at("stdin"));
    for (const auto& pair : env) {
      if (!pair.is_array() || pair.size() != 2) throw std::invalid_argument("an env entry is not a pair");
      std::string name = read_c_string(pair.at(0), "an env name");
      if (name.empty() || name.find('=') != std::string::npos) throw std::invalid_argument("a bad env name");
      request.env[std::move(name)] = read_c_string(pair.at(1), "an env value");
    }
    const json& l = message.at("limits");
    request.limits.wall_time_ms = read_optional(l.at("wall_time_ms"));
    request.limits.cpu_time_ms = read_optional(l.at("cpu_time_ms"));
    request.limits.memory_bytes = read_optional(l.at("memory_bytes"));
    request.limits.pids = read_optional(l.at("pids"));
    const json& cpus = l.at("cpus");
    if (!cpus.is_null() && !cpus.is_number()) throw std::invalid_argument("cpus is not a number");
    request.limits.cpus = cpus.is_null() ? std::nullopt : std::optional<double>(cpus.get<double>());
    request.limits.file_size_bytes = read_optional(l.at("file_size_bytes"));
    request.limits.open_files = read_optional(l.at("open_files"));
    request.limits.stack_bytes = read_optional(l.at("stack_bytes"));
    request.limits.core_size_bytes = read_count(l.at("core_size_bytes"));
    request.limits.output_bytes = read_count(l.at("output_bytes"));
    const uint64_t uid = read_count(message.at("caller_uid")), pid = read_count(message.at("caller_pid"));
    if (uid > std::numeric_limits<uid_t>::max() || pid > static_cast<uint64_t>(std::numeric_limits<pid_t>::max()))
      throw std::invalid_argument("caller_uid or caller_pid out of range");
    request.caller_uid = static_cast<uid_t>(uid);
    request.caller_pid = static_cast<pid_t>(pid);
    if (request.command.empty() || request.command[0].empty())
      return fail(EPROTO, "pooled request without a command");
    return request;
  } catch (const json::exception& error) {
    return fail(EPROTO, std::string("malformed pooled request: ") + error.what());
  } catch (const std::invalid_argument& error) {
    return fail(EPROTO, std::string("malformed pooled request: ") + error.what());
  }
}

}  // namespace aj::serve
