// The `agentjail run` options of the limits table (limits/table.h): one CLI11 option per row that
// names one, e.g. --memory SIZE "limits.memory, e.g. 256MiB or unlimited".
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>

namespace aj::cli {

// Registers each row's option on `cmd`; the text given lands in `into` under the option's name,
// as policy::Overrides::limits expects it.
void add_limit_options(CLI::App& cmd, std::map<std::string, std::string>& into);

}  // namespace aj::cli
