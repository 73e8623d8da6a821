// Policy problems: located, collected (never just the first), printed one per line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aj::policy {

struct Diagnostic {
  std::string file;   // path as the user gave it, or "builtin:NAME"; empty for command-line options
  uint32_t line = 0;  // 1-based; 0 when unknown
  uint32_t column = 0;
  std::string key;    // dotted key, e.g. "limits.memroy"; may be empty
  std::string message;
  std::string hint;   // e.g. `did you mean "memory"?`; may be empty

  // "file:line:col: message (hint)" — without the "agentjail: " prefix.
  std::string format() const;
};

using Diagnostics = std::vector<Diagnostic>;

}  // namespace aj::policy
