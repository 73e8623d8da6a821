// Delivering the report: one JSON document on stdout (--json) and/or a file (--report).
#pragma once

#include <string>

#include "report/report.h"

namespace aj::report {

// Prints and writes the report as asked; false (after one "agentjail:" line) when it failed.
bool emit(const Report& report, bool to_stdout, const std::string& path);

}  // namespace aj::report
