// Loading a policy: built-in name or path -> TOML -> extends resolved -> validated Policy.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/diagnostic.h"
#include "policy/model.h"

namespace aj::policy {

struct Loaded {
  Policy policy;
  std::string source;  // "builtin:python" or the policy file's absolute path
};

// Resolves `spec` (a built-in name such as "python", or a path to a .toml file), follows
// `extends`, merges, fills defaults and validates. Every problem found is appended to
// `diagnostics`; the result is empty when any of them is an error.
std::optional<Loaded> load(std::string_view spec, Diagnostics& diagnostics);

// Parses TOML text as a policy named `display_name` (used in diagnostics). `extends` is
// resolved relative to `base_dir` (built-in names always work); an empty `base_dir` refuses
// `extends` by path, so untrusted text cannot make the loader read files. For tests and the fuzzer.
std::optional<Loaded> load_text(std::string_view text, std::string_view display_name, std::string_view base_dir,
                                Diagnostics& diagnostics);

}  // namespace aj::policy
