// agentjail-fake: `serve` and `mcp` exactly as agentjail has them, with the FakeExecutor
// (fake_executor.h) in place of jails, so the integration tests can drive the protocol layers
// (HTTP over a unix socket, MCP over stdio, the Python client) on any machine.
#include <CLI/CLI.hpp>

#include "cli/serve.h"
#include "fake_executor.h"

int main(int argc, char** argv) {
  CLI::App app{"agentjail serve and mcp with a fake executor, for tests", "agentjail-fake"};
  app.require_subcommand(1);
  aj::cli::ExecutorFactory factory = [](const aj::cli::ServeSetup& setup) -> aj::Result<std::unique_ptr<aj::serve::Executor>> {
    auto executor = std::make_unique<aj::test::FakeExecutor>();
    executor->pool_state.clear();
    for (const auto& [name, count] : setup.pools) executor->pool_state[name] = {count, count};
    return executor;
  };
  std::vector<std::pair<CLI::App*, aj::cli::Runner>> commands;
  commands.emplace_back(nullptr, aj::cli::add_serve(app, factory));
  commands.back().first = app.get_subcommand("serve");
  commands.emplace_back(nullptr, aj::cli::add_mcp(app, factory));
  commands.back().first = app.get_subcommand("mcp");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& [sub, runner] : commands)
    if (sub->parsed()) return runner();
  return 125;
}
