// `extends`: one policy file applied on top of the files it extends, at the TOML-node level so
// that every value keeps the file and line that set it. The rules are at the top of merge.cc.
#pragma once

#include <toml++/toml.h>

#include "policy/diagnostic.h"

namespace aj::policy::detail {

// Applies `file` (one parsed policy file, `extends` already taken out) on top of `effective`
// (the merge of everything it extends; empty for the first file). Problems that only the merge
// can see (a target twice in one file, removing a mount nothing inherited) become diagnostics.
void merge_policy(toml::table& effective, toml::table&& file, Diagnostics& diagnostics);

}  // namespace aj::policy::detail
