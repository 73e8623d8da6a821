// Built-in policies, compiled from policies/*.toml at build time.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace aj::policy {

struct Builtin {
  std::string_view name;         // file name without .toml
  std::string_view description;  // the policy's `description`
  std::string_view text;         // the TOML source
};

std::span<const Builtin> builtins();
const Builtin* find_builtin(std::string_view name);

}  // namespace aj::policy
