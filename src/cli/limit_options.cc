#include "cli/limit_options.h"

#include <fmt/format.h>

#include "limits/table.h"
#include "policy/limit_value.h"

namespace aj::cli {

void add_limit_options(CLI::App& cmd, std::map<std::string, std::string>& into) {
  for (const auto& row : limits::kTable) {
    if (row.option.empty()) continue;
    const std::string option(row.option);
    // The default value is the example: what the option changes from.
    const limits::Value fallback = limits::get(Limits{}, row);
    const std::string help =
        fallback ? fmt::format("limits.{}, e.g. {}{}", row.key, policy::limit_text(row, fallback),
                               row.unlimited ? " or unlimited" : "")
                 : fmt::format("limits.{}, unlimited by default", row.key);
    const char* type = "N";
    switch (row.kind) {
      case limits::Kind::size: type = "SIZE"; break;
      case limits::Kind::duration: type = "DURATION"; break;
      case limits::Kind::count: type = "N"; break;
      case limits::Kind::cpus: type = "CPUS"; break;
    }
    cmd.add_option_function<std::string>(
           option, [&into, option](const std::string& text) { into[option] = text; }, help)
        ->type_name(type);
  }
}

}  // namespace aj::cli
