// libFuzzer target: arbitrary bytes as what an MCP client writes to `agentjail mcp`, split into
// lines as the stdio transport splits them. Beyond "no crash, no exception, no sanitizer
// report", it checks the session's contract on every input:
//   * every message it sends is a JSON-RPC 2.0 response: "jsonrpc": "2.0", an id (null only
//     for errors), and exactly one of result and error, an error with an integer code and a
//     non-empty message;
//   * a notification (no id) is never answered, so there are at most as many answers as lines;
//   * a tools/call that starts a run is answered exactly once (the executor here ends every run
//     at once with a small report).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mcp/session.h"

namespace {

using aj::mcp::json;

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "mcp_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// Ends each run in on_tick with a report of the run --json shape.
class InstantExecutor : public aj::serve::Executor {
 public:
  aj::serve::ApiResult<void> start(aj::serve::RunRequest request, aj::serve::RunCallbacks callbacks) override {
    if (request.command.empty()) broken("a run without a command", "");
    pending_.emplace_back(std::move(request), std::move(callbacks));
    return {};
  }
  void cancel(const std::string&, aj::serve::CancelReason) override {}
  void poll_fds(std::vector<pollfd>&) override {}
  void on_ready(int, short) override {}
  int next_tick_ms() override { return 0; }
  void on_tick() override {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [request, callbacks] : pending) {
      json report = {{"id", request.id}, {"status", request.command[0].size() % 2 ? "ok" : "exit"},
                     {"exit_code", static_cast<int>(request.command.size())}, {"signal", nullptr},
                     {"stdout", request.stdin_data}, {"stderr", request.command.back()}, {"violations", json::array()},
                     {"warnings", json::array({"w"})}};
      callbacks.on_done(std::move(report), {});
    }
  }
  std::map<std::string, aj::serve::PoolState> pools() const override { return {}; }
  void begin_shutdown() override {}
  bool idle() const override { return pending_.empty(); }

 private:
  std::vector<std::pair<aj::serve::RunRequest, aj::serve::RunCallbacks>> pending_;
};

void check_message(const json& message) {
  const std::string text = message.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!message.is_object() || message.value("jsonrpc", json()) != "2.0") broken("not JSON-RPC 2.0", text);
  if (!message.contains("id")) broken("an answer without an id", text);
  const bool result = message.contains("result"), error = message.contains("error");
  if (result == error) broken("not exactly one of result and error", text);
  if (message["id"].is_null() && !error) broken("a result for a null id", text);
  if (error) {
    const json& e = message["error"];
    if (!e.is_object() || !e.contains("code") || !e["code"].is_number_integer() || !e.contains("message") ||
        !e["message"].is_string() || e["message"].get<std::string>().empty())
      broken("a malformed error", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const aj::serve::PolicyCatalog catalog = {{"default", aj::Limits{}}, {"python", aj::Limits{}},
                                                   {"node", aj::Limits{}}, {"shell", aj::Limits{}}};
  aj::mcp::SessionConfig config;
  config.policies = &catalog;
  config.language_policy = {{"python", "python"}, {"node", "node"}, {"shell", "shell"}};
  config.command_policy = "default";
  config.version = "fuzz";
  config.max_output_shown = 64;
  InstantExecutor executor;
  size_t answers = 0;
  aj::mcp::Session session(config, executor, [&](const json& message) {
    check_message(message);
    ++answers;
  });
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t lines = 0;
  while (!input.empty()) {
    size_t newline = input.find('\n');
    session.on_line(input.substr(0, newline));
    ++lines;
    executor.on_tick();
    if (newline == std::string_view::npos) break;
    input.remove_prefix(newline + 1);
  }
  executor.on_tick();
  if (session.calls_running() != 0) broken("a started call was never answered", "");
  if (answers > lines) broken("more answers than messages", std::to_string(answers) + " > " + std::to_string(lines));
  return 0;
}
