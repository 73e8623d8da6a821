// The merged TOML of a policy -> the Policy model, with every problem collected as a located
// diagnostic. Defaults are the model's; only keys present in the TOML change them.
#pragma once

#include <toml++/toml.h>

#include "policy/diagnostic.h"
#include "policy/model.h"
#include "policy/reader.h"

namespace aj::policy::detail {

// Decodes and checks every key of the merged policy table (diagnostics for every problem).
Policy decode(const toml::table& merged, Diagnostics& diagnostics);
// Decodes the [filesystem] table into `filesystem` (in decode_mounts.cc).
void decode_filesystem(TableReader& filesystem_table, Filesystem& filesystem);
// Decodes the [network] table into `network` (in decode_network.cc).
void decode_network(TableReader& network_table, Network& network);

}  // namespace aj::policy::detail
