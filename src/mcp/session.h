// `agentjail mcp`: a Model Context Protocol server (revision 2025-06-18) over stdio. Messages
// are JSON-RPC 2.0, one per line. It offers two tools, run_code and run_command, each run in a
// jail through the same Executor as `agentjail serve` (serve/executor.h), and answered with the
// report's essentials as text (and as structured content).
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "serve/api.h"
#include "serve/executor.h"

namespace aj::mcp {

using json = nlohmann::json;

struct SessionConfig {
  const serve::PolicyCatalog* policies = nullptr;
  // The policy of each run_code language ("python", "node", "shell") and of run_command.
  std::map<std::string, std::string> language_policy;
  std::string command_policy;
  std::string version;             // agentjail's, for serverInfo
  size_t max_output_shown = 8192;  // bytes of stdout or stderr in a result's text: head and tail
};

// The protocol revisions this server speaks, newest first.
extern const char* const kProtocolVersions[];

class Session {
 public:
  // `send` writes one message (the session adds no framing; the caller writes it as a line).
  Session(SessionConfig config, serve::Executor& executor, std::function<void(const json&)> send);

  // One line from the client: a request, a notification or a response. Bad input gets the
  // JSON-RPC error it calls for; a tools/call starts a run and is answered when it ends.
  void on_line(std::string_view line);
  // The client sent a line longer than the reader takes: answered with a parse error.
  void on_oversized_line(size_t limit);
  // Ends every run still going (stdin closed, or SIGTERM); their answers still go out.
  void cancel_all();
  size_t calls_running() const { return calls_.size(); }

 private:
  void handle_request(const json& id, const std::string& method, const json& params);
  void call_tool(const json& id, const json& params);
  void reply(const json& id, json result);
  void reply_error(const json& id, int code, const std::string& message);

  SessionConfig config_;
  serve::Executor& executor_;
  std::function<void(const json&)> send_;
  std::map<std::string, json> calls_;  // run id -> JSON-RPC id of the tools/call it answers
};

// The tools/list entries.
json tool_definitions();
// Validated tools/call arguments -> a run request (policy, command, stdin, limits); an error
// message (for -32602) when the arguments are wrong.
std::expected<serve::RunRequest, std::string> tool_request(const std::string& name, const json& arguments,
                                                           const SessionConfig& config);
// The tools/call result for a finished run: text with status, exit code, the head and tail of
// stdout and stderr, violations and warnings; structuredContent with the same; isError unless ok.
json tool_result(const json& report, size_t max_output_shown);

}  // namespace aj::mcp
