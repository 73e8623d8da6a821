// The one parser of a limit's value, for the TOML decoder and the `agentjail run` options alike:
// a size, a duration, a count or CPUs as the row of limits/table.h says, or "unlimited" where the
// row allows it, checked against the row's bounds. See VALUES in man/agentjail-policy.5.scd.
#pragma once

#include <toml++/toml.h>

#include <expected>
#include <string>
#include <string_view>

#include "limits/table.h"

namespace aj::policy {

// Why a value was refused: the message without the key or option it was given for, and a
// hint ("did you mean ...?") or "".
struct LimitProblem {
  std::string message;
  std::string hint;
};
using LimitResult = std::expected<limits::Value, LimitProblem>;

// The text of a command-line option: "512MiB", "10s", "64", "0.5" or "unlimited".
LimitResult parse_limit(const limits::Row& row, std::string_view text);
// A TOML value: a string as on the command line, an integer (bytes, seconds, a count, CPUs) or,
// for durations and cpus, a float.
LimitResult parse_limit(const limits::Row& row, const toml::node& node);

// The value as people read it: "64MiB", "30s", "64", "0.5", "unlimited" (doctor, messages).
std::string limit_text(const limits::Row& row, const limits::Value& value);

}  // namespace aj::policy
