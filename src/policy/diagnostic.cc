#include "policy/diagnostic.h"

#include <fmt/format.h>

namespace aj::policy {

std::string Diagnostic::format() const {
  // Editors and CI annotators understand "file:line:col: message"; parts that are unknown are
  // left out rather than printed as zeros.
  std::string out;
  if (!file.empty()) {
    out = file;
    if (line != 0) out += fmt::format(":{}", line);
    if (line != 0 && column != 0) out += fmt::format(":{}", column);
    out += ": ";
  }
  out += message;
  if (!hint.empty()) out += fmt::format(" ({})", hint);
  return out;
}

}  // namespace aj::policy
