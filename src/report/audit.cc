#include "report/audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "sys/fd.h"
#include "sys/files.h"

namespace aj::report {
namespace {

constexpr const char* kCaptureFields[] = {"stdout",       "stderr",           "stdout_bytes",
                                          "stderr_bytes", "stdout_truncated", "stderr_truncated"};

// One write(2), never a loop: a second write for the rest of a short one could land after
// another run's line and split this record in two. A short write on a regular file means the
// disk or a file-size limit is full, so we report it instead of retrying.
aj::Status write_line(int fd, const std::string& line) {
  ssize_t n;
  do n = ::write(fd, line.data(), line.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) return fail_errno("write");
  if (static_cast<size_t>(n) != line.size())
    return fail(EIO, "short write (" + std::to_string(n) + " of " + std::to_string(line.size()) +
                         " bytes): the log now ends in a partial line");
  return {};
}

}  // namespace

std::string audit_line(const Report& report, uid_t caller_uid) {
  nlohmann::json record = to_json(report);
  for (const char* field : kCaptureFields) record.erase(field);
  record["caller_uid"] = caller_uid;
  // dump() without indentation escapes every control character inside strings, so the only
  // newline is the one we add: one record per line, whatever the command's arguments hold.
  // Invalid UTF-8 (an argument is any bytes) is replaced rather than thrown on.
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// Refuses anything but a regular file: a FIFO would block the run's end forever (or hand the
// record to whoever reads it), a device is not a log, and a symlink in any component is how a
// jail or a less privileged user redirects root's appends (sys::open_output_file).
Result<sys::UniqueFd> open_audit_log(const std::string& path) {
  auto fd = sys::open_output_file(path, O_APPEND, 0600);
  if (!fd) return std::unexpected(fd.error().context("audit log " + path));
  return fd;
}

bool append_audit_line(const std::string& path, const Report& report, uid_t caller_uid) {
  auto fd = open_audit_log(path);
  if (!fd) {
    log::error_line(fd.error().what());
    return false;
  }
  return append_audit_line(fd->get(), path, report, caller_uid);
}

bool append_audit_line(int fd, const std::string& path, const Report& report, uid_t caller_uid) {
  aj::Status written = write_line(fd, audit_line(report, caller_uid));
  if (!written) {
    log::error_line("audit log " + path + ": " + written.error().what());
    return false;
  }
  return true;
}

}  // namespace aj::report
