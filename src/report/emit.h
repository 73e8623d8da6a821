// Delivering the report: one JSON document on stdout (--json) and/or a file (--report).
#pragma once

#include <string>

#include "report/report.h"
#include "sys/fd.h"

namespace aj::report {

// Prints and writes the report as asked; false (after one "agentjail:" line) when it failed.
bool emit(const Report& report, bool to_stdout, const std::string& path);
// The same with the --report file already open (open_report_file): `path` only names it in
// messages. The file is opened before the jail starts, so nothing the jail does to the path
// can redirect the write; it is rewritten from offset 0.
bool emit(const Report& report, bool to_stdout, int report_fd, const std::string& path);
// Opens (and truncates) the --report file without following any symlink, regular files only
// (sys::open_output_file); the error names the path.
Result<sys::UniqueFd> open_report_file(const std::string& path);

}  // namespace aj::report
