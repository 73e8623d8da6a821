#include "mcp/session.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "report/report.h"

namespace aj::mcp {
namespace {

// JSON-RPC 2.0 error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

// Code handed to an interpreter as one argument: the kernel takes at most 128 KiB per argument.
constexpr size_t kMaxCode = 128 * 1024 - 1;


// "first 4 KiB ... [N bytes left out] ... last 4 KiB" for output longer than `limit`, cut on
// character boundaries so the text stays UTF-8.
std::string head_and_tail(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t half = limit / 2;
  size_t head = half, tail = text.size() - half;
  while (head > 0 && (static_cast<unsigned char>(text[head]) & 0xC0) == 0x80) --head;
  while (tail < text.size() && (static_cast<unsigned char>(text[tail]) & 0xC0) == 0x80) ++tail;
  return text.substr(0, head) + fmt::format("\n[... {} bytes left out ...]\n", tail - head) + text.substr(tail);
}

std::string text_of(const json& report, const char* key) {
  return report.contains(key) && report[key].is_string() ? report[key].get<std::string>() : std::string();
}

}  // namespace

const char* const kProtocolVersions[] = {"2025-06-18", "2025-03-26", "2024-11-05", nullptr};

json tool_definitions() {
  json run_code = {
      {"name", "run_code"},
      {"title", "Run code in a jail"},
      {"description",
       "Run a Python, Node.js or shell program in a fresh jail (no network, read-only system, scratch /tmp) "
       "and return its exit status, output, and any refused system calls."},
      {"inputSchema",
       {{"type", "object"},
        {"properties",
         {{"language", {{"type", "string"}, {"enum", {"python", "node", "shell"}}, {"description", "The interpreter"}}},
          {"code", {{"type", "string"}, {"description", "The program's source"}}},
          {"stdin", {{"type", "string"}, {"description", "Standard input of the program"}}},
          {"timeout", {{"type", "string"}, {"description", "Wall-time limit such as \"30s\" (at most the policy's)"}}}}},
        {"required", {"language", "code"}},
        {"additionalProperties", false}}},
      {"annotations", {{"readOnlyHint", false}, {"destructiveHint", false}, {"openWorldHint", false}}}};
  json run_command = {
      {"name", "run_command"},
      {"title", "Run a command in a jail"},
      {"description", "Run one command (argv, no shell) in a fresh jail and return its exit status and output."},
      {"inputSchema",
       {{"type", "object"},
        {"properties",
         {{"argv", {{"type", "array"}, {"items", {{"type", "string"}}}, {"minItems", 1}, {"description", "Program and arguments"}}},
          {"stdin", {{"type", "string"}, {"description", "Standard input of the command"}}},
          {"timeout", {{"type", "string"}, {"description", "Wall-time limit such as \"30s\" (at most the policy's)"}}}}},
        {"required", {"argv"}},
        {"additionalProperties", false}}},
      {"annotations", {{"readOnlyHint", false}, {"destructiveHint", false}, {"openWorldHint", false}}}};
  return json::array({run_code, run_command});
}

std::expected<serve::RunRequest, std::string> tool_request(const std::string& name, const json& arguments,
                                                           const SessionConfig& config) {
  if (!arguments.is_object()) return std::unexpected("arguments must be an object");
  serve::RunRequest request;
  std::vector<std::string> allowed;
  if (name == "run_code") {
    allowed = {"language", "code", "stdin", "timeout"};
    if (!arguments.contains("language") || !arguments["language"].is_string())
      return std::unexpected("language must be \"python\", \"node\" or \"shell\"");
    const std::string language = arguments["language"].get<std::string>();
    auto policy = config.language_policy.find(language);
    if (policy == config.language_policy.end()) return std::unexpected("language must be \"python\", \"node\" or \"shell\"");
    if (!arguments.contains("code") || !arguments["code"].is_string()) return std::unexpected("code must be a string");
    std::string code = arguments["code"].get<std::string>();
    if (code.size() > kMaxCode) return std::unexpected(fmt::format("code is longer than {} bytes", kMaxCode));
    if (code.find('\0') != std::string::npos) return std::unexpected("code contains a NUL byte");
    request.policy = policy->second;
    if (language == "python") request.command = {"python3", "-c", std::move(code)};
    else if (language == "node") request.command = {"node", "-e", std::move(code)};
    else request.command = {"/bin/sh", "-c", std::move(code)};
  } else if (name == "run_command") {
    allowed = {"argv", "stdin", "timeout"};
    const json* argv = arguments.contains("argv") ? &arguments["argv"] : nullptr;
    if (!argv || !argv->is_array() || argv->empty()) return std::unexpected("argv must be a non-empty array of strings");
    for (const json& word : *argv) {
      if (!word.is_string() || word.get_ref<const std::string&>().find('\0') != std::string::npos)
        return std::unexpected("argv must be a non-empty array of strings without NUL bytes");
      request.command.push_back(word.get<std::string>());
    }
    if (request.command[0].empty()) return std::unexpected("argv[0] must not be empty");
    request.policy = config.command_policy;
  } else {
    return std::unexpected("unknown tool " + name + " (tools: run_code, run_command)");
  }
  for (const auto& [key, value] : arguments.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      return std::unexpected(fmt::format("{} takes no argument {}", name, key));
  if (arguments.contains("stdin")) {
    if (!arguments["stdin"].is_string()) return std::unexpected("stdin must be a string");
    request.stdin_data = arguments["stdin"].get<std::string>();
  }
  auto found = config.policies ? config.policies->find(request.policy) : serve::PolicyCatalog::const_iterator{};
  if (!config.policies || found == config.policies->end()) return std::unexpected("policy " + request.policy + " is not loaded");
  request.limits = found->second;
  if (arguments.contains("timeout")) {
    const json& timeout = arguments["timeout"];
    if (!timeout.is_string() && !timeout.is_number()) return std::unexpected("timeout must be a duration such as \"30s\"");
    auto tightened = serve::tighten(found->second, json{{"wall_time", timeout}});
    if (!tightened) return std::unexpected(tightened.error().message);
    request.limits = *tightened;
  }
  request.id = report::new_run_id();
  request.caller_uid = ::getuid();  // the client is whoever started us on this pipe
  return request;
}

json tool_result(const json& report, size_t max_output_shown) {
  const std::string status = text_of(report, "status");
  std::string text = "status: " + status + "\n";
  const json exit_code = report.contains("exit_code") ? report["exit_code"] : json(nullptr);
  text += "exit code: " + (exit_code.is_null() ? std::string("none") : exit_code.dump()) + "\n";
  if (std::string signal = text_of(report, "signal"); !signal.empty()) text += "signal: " + signal + "\n";
  if (std::string error = text_of(report, "error"); !error.empty()) text += "error: " + error + "\n";
  for (const char* stream : {"stdout", "stderr"}) {
    std::string output = text_of(report, stream);
    std::string total_key = std::string(stream) + "_bytes";
    uint64_t total = report.contains(total_key) && report[total_key].is_number() ? report[total_key].get<uint64_t>() : output.size();
    text += fmt::format("--- {} ({} bytes{}) ---\n", stream, total, total > output.size() ? ", cut at the policy's output limit" : "");
    std::string shown = head_and_tail(output, max_output_shown);
    text += shown;
    if (!shown.empty() && shown.back() != '\n') text += "\n";
  }
  json violations = report.contains("violations") && report["violations"].is_array() ? report["violations"] : json::array();
  if (!violations.empty()) {
    text += "refused system calls:\n";
    for (const json& v : violations)
      text += fmt::format("  {} (pid {}, {}{})\n", v.value("syscall", "?"), v.value("pid", 0), v.value("action", "?"),
                          v.value("count", 1) > 1 ? fmt::format(", {} times", v.value("count", 1)) : "");
  }
  json warnings = report.contains("warnings") && report["warnings"].is_array() ? report["warnings"] : json::array();
  for (const json& warning : warnings)
    if (warning.is_string()) text += "warning: " + warning.get<std::string>() + "\n";

  json structured = {{"status", status},
                     {"exit_code", exit_code},
                     {"signal", report.contains("signal") ? report["signal"] : json(nullptr)},
                     {"stdout", head_and_tail(text_of(report, "stdout"), max_output_shown)},
                     {"stderr", head_and_tail(text_of(report, "stderr"), max_output_shown)},
                     {"violations", violations},
                     {"warnings", warnings},
                     {"id", text_of(report, "id")},
                     {"wall_time_ms", report.contains("wall_time_ms") ? report["wall_time_ms"] : json(nullptr)}};
  return json{{"content", json::array({json{{"type", "text"}, {"text", text}}})},
              {"structuredContent", structured},
              {"isError", status != "ok"}};
}

Session::Session(SessionConfig config, serve::Executor& executor, std::function<void(const json&)> send)
    : config_(std::move(config)), executor_(executor), send_(std::move(send)) {}

void Session::reply(const json& id, json result) {
  send_(json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

void Session::reply_error(const json& id, int code, const std::string& message) {
  send_(json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

void Session::on_oversized_line(size_t limit) {
  reply_error(nullptr, kParseError, fmt::format("message longer than {} bytes", limit));
}

void Session::on_line(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;  // blank lines between messages
  json message;
  try {
    message = json::parse(line);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers past a double
    reply_error(nullptr, kParseError, "not JSON");
    return;
  }
  if (!message.is_object()) {
    // JSON-RPC batches were removed from MCP in 2025-06-18.
    reply_error(nullptr, kInvalidRequest, message.is_array() ? "batches are not supported" : "a message must be an object");
    return;
  }
  const json id = message.contains("id") ? message["id"] : json();
  const bool has_id = message.contains("id");
  if (has_id && !id.is_string() && !id.is_number_integer()) {
    reply_error(nullptr, kInvalidRequest, "id must be a string or an integer");
    return;
  }
  if (!message.contains("jsonrpc") || message["jsonrpc"] != "2.0") {
    if (has_id) reply_error(id, kInvalidRequest, "jsonrpc must be \"2.0\"");
    return;
  }
  if (!message.contains("method")) return;  // a response to us: we send no requests, so nothing to match
  if (!message["method"].is_string()) {
    if (has_id) reply_error(id, kInvalidRequest, "method must be a string");
    return;
  }
  const std::string method = message["method"].get<std::string>();
  const json params = message.contains("params") ? message["params"] : json::object();
  if (!params.is_object()) {
    if (has_id) reply_error(id, kInvalidParams, "params must be an object");
    return;
  }
  if (!has_id) {
    // Notifications are never answered; notifications/initialized needs nothing of us.
    if (method == "notifications/cancelled" && params.contains("requestId")) {
      for (const auto& [run_id, call_id] : calls_)
        if (call_id == params["requestId"]) executor_.cancel(run_id, serve::CancelReason::deleted);
    }
    return;
  }
  try {
    handle_request(id, method, params);
  } catch (const std::exception& e) {
    // Every input is checked before use; this is the net under a check that was missed, so
    // one message can never end the session.
    reply_error(id, -32603, std::string("internal error: ") + e.what());
  }
}

void Session::handle_request(const json& id, const std::string& method, const json& params) {
  if (method == "initialize") {
    std::string wanted = params.contains("protocolVersion") && params["protocolVersion"].is_string()
                             ? params["protocolVersion"].get<std::string>()
                             : "";
    std::string chosen = kProtocolVersions[0];
    for (const char* const* version = kProtocolVersions; *version; ++version)
      if (wanted == *version) chosen = wanted;
    reply(id, json{{"protocolVersion", chosen},
                   {"capabilities", {{"tools", {{"listChanged", false}}}}},
                   {"serverInfo", {{"name", "agentjail"}, {"title", "agentjail"}, {"version", config_.version}}},
                   {"instructions",
                    "Each call runs in a new jail that is destroyed afterwards: no file, process or network "
                    "connection is kept between calls."}});
    return;
  }
  if (method == "ping") {
    reply(id, json::object());
    return;
  }
  if (method == "tools/list") {
    reply(id, json{{"tools", tool_definitions()}});
    return;
  }
  if (method == "tools/call") {
    call_tool(id, params);
    return;
  }
  reply_error(id, kMethodNotFound, "unknown method " + method);
}

void Session::call_tool(const json& id, const json& params) {
  if (!params.contains("name") || !params["name"].is_string()) {
    reply_error(id, kInvalidParams, "tools/call needs the tool's name");
    return;
  }
  auto request = tool_request(params["name"].get<std::string>(),
                              params.contains("arguments") ? params["arguments"] : json::object(), config_);
  if (!request) {
    reply_error(id, kInvalidParams, request.error());
    return;
  }
  const std::string run_id = request->id;
  serve::RunCallbacks callbacks;
  callbacks.on_output = [](serve::Stream, std::string_view) {};
  callbacks.on_done = [this, run_id](json report, serve::CollectedFiles) {
    auto call = calls_.find(run_id);
    if (call == calls_.end()) return;
    json call_id = call->second;
    calls_.erase(call);
    reply(call_id, tool_result(report, config_.max_output_shown));
  };
  calls_.emplace(run_id, id);
  auto started = executor_.start(std::move(*request), std::move(callbacks));
  if (!started) {
    calls_.erase(run_id);
    // The call was fine; the jail could not be had: a tool error the model can read.
    reply(id, json{{"content", json::array({json{{"type", "text"}, {"text", "could not start: " + started.error().message}}})},
                   {"isError", true}});
  }
}

void Session::cancel_all() {
  std::vector<std::string> ids;
  for (const auto& [run_id, call_id] : calls_) ids.push_back(run_id);
  for (const std::string& run_id : ids) executor_.cancel(run_id, serve::CancelReason::disconnected);
}

}  // namespace aj::mcp
