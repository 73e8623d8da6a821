#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "cli/serve.h"
#include "report/exit_codes.h"

namespace aj::cli {

int main(int argc, char** argv) {
  // Everything after the first "--" is the jailed command, never parsed as our options.
  std::vector<std::string> command;
  int our_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      our_argc = i;
      command.assign(argv + i + 1, argv + argc);
      break;
    }
  }
  const bool saw_separator = our_argc != argc;

  CLI::App app{"agentjail: run untrusted code in a jail built from a TOML policy", "agentjail"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text(), "Print the version and the libraries agentjail was built with");
  app.footer("Exit codes of run: the command's own (0-123), 124 time limit, 125 agentjail failed, "
             "126 not executable, 127 not found, 128+N killed by signal N. See agentjail(1).");

  std::vector<std::pair<CLI::App*, Runner>> commands;
  auto add = [&](Runner runner, const char* name) { commands.emplace_back(app.get_subcommand(name), std::move(runner)); };
  add(add_run(app, command), "run");
  add(add_check(app), "check");
  add(add_policies(app), "policies");
  add(add_doctor(app), "doctor");
  add(add_seccomp(app), "seccomp");
  add(add_serve(app, jail_executor_factory()), "serve");
  add(add_mcp(app, jail_executor_factory()), "mcp");

  // CLI11 would say only that a subcommand is required.
  if (our_argc > 1 && argv[1][0] != '-' && !std::any_of(commands.begin(), commands.end(), [&](const auto& c) {
        return c.first->get_name() == argv[1];
      })) {
    log::error_line("unknown command " + aj::quoted(argv[1]) + " (see agentjail --help)");
    return report::kExitSetupError;
  }
  try {
    app.parse(our_argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where;
    for (const auto& [sub, runner] : commands)
      if (sub->parsed()) where = sub->get_name() + ": ";
    std::string hint = where.empty() ? "agentjail --help" : "agentjail " + where.substr(0, where.size() - 2) + " --help";
    std::string message = where + e.what() + " (see " + hint + ")";
    // A caller of `run --json` reads stdout as one JSON document, also when our own options
    // were wrong; CLI11 stopped before it could set the flag, so look for it ourselves.
    if (where == "run: ") {
      bool json = false;
      for (int i = 1; i < our_argc; ++i) json = json || std::strcmp(argv[i], "--json") == 0;
      return reject_run(message, json, command);
    }
    log::error_line(message);
    return report::kExitSetupError;
  }

  for (auto& [sub, runner] : commands) {
    if (!sub->parsed()) continue;
    if (sub->get_name() != "run" && saw_separator) {
      log::error_line(sub->get_name() + ": unexpected \"--\": only `agentjail run` takes a command");
      return report::kExitSetupError;
    }
    return runner();
  }
  return report::kExitSetupError;  // unreachable: require_subcommand(1)
}

}  // namespace aj::cli
