#include <cstdio>

#include "cli/commands.h"
#include "policy/builtins.h"

namespace aj::cli {

Runner add_policies(CLI::App& root) {
  root.add_subcommand("policies", "List the built-in policies: name and one-line description");
  return [] {
    size_t width = 0;
    for (const auto& builtin : policy::builtins()) width = std::max(width, builtin.name.size());
    for (const auto& builtin : policy::builtins())
      std::printf("%-*.*s  %.*s\n", static_cast<int>(width), static_cast<int>(builtin.name.size()), builtin.name.data(),
                  static_cast<int>(builtin.description.size()), builtin.description.data());
    return 0;
  };
}

}  // namespace aj::cli
