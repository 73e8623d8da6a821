#include "report/audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "sys/fd.h"

namespace aj::report {
namespace {

constexpr const char* kCaptureFields[] = {"stdout",       "stderr",           "stdout_bytes",
                                          "stderr_bytes", "stdout_truncated", "stderr_truncated"};

// Opens the log for appending, refusing anything but a regular file: a FIFO would block the
// run's end forever (or hand the record to whoever reads it), a device is not a log, and a
// symlink as last component is how a less privileged user redirects root's appends.
Result<sys::UniqueFd> open_log(const std::string& path) {
  // O_NONBLOCK only so that opening a FIFO without a reader fails instead of hanging; it has
  // no effect on writes to a regular file.
  sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
                          0600));
  if (!fd) return fail_errno("open");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("fstat");
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, "not a regular file");
  return fd;
}

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

bool append_audit_line(const std::string& path, const Report& report, uid_t caller_uid) {
  auto fd = open_log(path);
  aj::Status written = fd ? write_line(fd->get(), audit_line(report, caller_uid)) : aj::Status(std::unexpected(fd.error()));
  if (!written) {
    log::error_line("audit log " + path + ": " + written.error().what());
    return false;
  }
  return true;
}

}  // namespace aj::report
