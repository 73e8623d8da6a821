#include <cstdio>
#include <memory>

#include "base/log.h"
#include "cli/commands.h"
#include "policy/emit.h"
#include "policy/load.h"
#include "report/exit_codes.h"

namespace aj::cli {

Runner add_check(CLI::App& root) {
  struct Options {
    std::string policy = "default";
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = root.add_subcommand("check", "Validate a policy and print it with every default filled in");
  cmd->add_option("-p,--policy", options->policy, "Policy file (.toml) or built-in name")->capture_default_str();
  cmd->add_flag("--json", options->json, "Print the effective policy as JSON instead of TOML");
  cmd->footer("Exit status: 0 when the policy is valid, 125 when it is not (one line on stderr per problem).");
  return [options] {
    policy::Diagnostics diagnostics;
    auto loaded = policy::load(options->policy, diagnostics);
    for (const auto& diagnostic : diagnostics) log::error_line(diagnostic.format());
    if (!loaded) return report::kExitSetupError;
    if (options->json)
      std::printf("%s\n", policy::to_json(loaded->policy).dump(2).c_str());
    else
      std::fputs(policy::to_toml(loaded->policy).c_str(), stdout);
    return 0;
  };
}

}  // namespace aj::cli
