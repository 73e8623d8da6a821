#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <fmt/format.h>
#include <vector>

#include "base/log.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "cli/serve.h"
#include "report/exit_codes.h"

namespace aj::cli {
namespace {

using Commands = std::vector<std::pair<CLI::App*, Runner>>;

// A caller of `run --json` reads stdout as one JSON document, also when our own options were
// wrong; CLI11 stopped before it could set the flag, so look for it ourselves.
bool json_requested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--json") == 0) return true;
  return false;
}

// `agentjail -p python run -- ...`: every option belongs to a command, and CLI11 would only say
// that "python -p" was not expected. Returns the command named later and the message that shows
// the line as it should be.
std::optional<std::pair<std::string, std::string>> option_before_command(int argc, char** argv, const Commands& commands) {
  if (argc < 2 || argv[1][0] != '-') return std::nullopt;
  for (const char* global : {"-h", "--help", "--version"})
    if (std::strcmp(argv[1], global) == 0) return std::nullopt;
  for (int i = 2; i < argc; ++i) {
    const bool is_command =
        std::any_of(commands.begin(), commands.end(), [&](const auto& c) { return c.first->get_name() == argv[i]; });
    if (!is_command) continue;
    std::string fixed = std::string("agentjail ") + argv[i];
    for (int j = 1; j < argc; ++j)
      if (j != i) fixed += " " + std::string(argv[j]);
    const std::string name = argv[i];
    return std::pair{name, fmt::format("{} is an option of a command and goes after its name: {}{}",
                                       aj::quoted(argv[1]), fixed, name == "run" ? " -- ..." : "")};
  }
  return std::nullopt;
}

// `agentjail check python`: a policy named where an option was expected. Returns the message
// that names -p, or nothing when `error` is another mistake.
std::optional<std::string> policy_as_argument(const CLI::App& sub, const CLI::ParseError& error) {
  if (dynamic_cast<const CLI::ExtrasError*>(&error) == nullptr || sub.get_option_no_throw("--policy") == nullptr)
    return std::nullopt;
  const std::vector<std::string> extras = sub.remaining();
  if (extras.size() != 1 || extras[0].starts_with("-")) return std::nullopt;
  return fmt::format("{}: unexpected argument {}: a policy is given with -p (agentjail {} -p {})", sub.get_name(),
                     aj::quoted(extras[0]), sub.get_name(), extras[0]);
}

}  // namespace

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
  std::vector<std::pair<CLI::App*, Runner>> commands;
  auto add = [&](Runner runner, const char* name) { commands.emplace_back(app.get_subcommand(name), std::move(runner)); };
  add(add_run(app, command), "run");
  add(add_check(app), "check");
  add(add_policies(app), "policies");
  add(add_doctor(app), "doctor");
  add(add_seccomp(app), "seccomp");
  add(add_serve(app, jail_executor_factory()), "serve");
  add(add_mcp(app, jail_executor_factory()), "mcp");
  add(add_ci(app), "ci");
  // Set after the subcommands, which would otherwise inherit it: `check --help` ending in run's
  // exit codes misleads.
  app.footer("Exit codes of run: the command's own (0-123), 124 time limit, 125 agentjail failed, "
             "126 not executable, 127 not found, 128+N killed by signal N. See agentjail(1).");

  if (auto misplaced = option_before_command(our_argc, argv, commands)) {
    const auto& [name, message] = *misplaced;
    if (name == "run") return reject_run(message, json_requested(our_argc, argv), command);
    log::error_line(message);
    return report::kExitSetupError;
  }

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
    for (const auto& [sub, runner] : commands)
      if (sub->parsed())
        if (auto policy = policy_as_argument(*sub, e)) message = *policy;
    if (where == "run: ") return reject_run(message, json_requested(our_argc, argv), command);
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
