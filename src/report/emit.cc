#include "report/emit.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/log.h"
#include "sys/fd.h"
#include "sys/files.h"

namespace aj::report {

Result<sys::UniqueFd> open_report_file(const std::string& path) {
  auto fd = sys::open_output_file(path, O_TRUNC, 0644);
  if (!fd) return std::unexpected(fd.error().context("report " + path));
  return fd;
}

bool emit(const Report& report, bool to_stdout, const std::string& path) {
  if (path.empty()) return emit(report, to_stdout, -1, path);
  auto fd = open_report_file(path);
  if (!fd) {
    if (to_stdout) emit(report, true, -1, "");
    log::error_line(fd.error().what());
    return false;
  }
  return emit(report, to_stdout, fd->get(), path);
}

bool emit(const Report& report, bool to_stdout, int report_fd, const std::string& path) {
  if (!to_stdout && report_fd < 0) return true;
  // Any string in the report may hold bytes that are not UTF-8 (the command's arguments, a path
  // it named): they are replaced by U+FFFD, so there is always exactly one valid document.
  const std::string text = to_json(report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  bool ok = true;
  // The file first: a reader that stalls stdout must not keep it from being written.
  if (report_fd >= 0) {
    // The jail may have written into the file meanwhile (it lies in a bind): start afresh.
    aj::Status written = ::ftruncate(report_fd, 0) == 0 && ::lseek(report_fd, 0, SEEK_SET) == 0
                             ? sys::write_all(report_fd, text)
                             : aj::Status(fail_errno("truncate"));
    if (!written) {
      log::error_line("report: " + path + ": " + written.error().what());
      ok = false;
    }
  }
  if (to_stdout) {
    if (auto written = sys::write_all(STDOUT_FILENO, text); !written) {
      log::error_line("report: stdout: " + written.error().what());
      ok = false;
    }
  }
  return ok;
}

}  // namespace aj::report
