#include "report/emit.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/log.h"
#include "sys/fd.h"
#include "sys/files.h"

namespace aj::report {

bool emit(const Report& report, bool to_stdout, const std::string& path) {
  if (!to_stdout && path.empty()) return true;
  const std::string text = to_json(report).dump(2) + "\n";
  bool ok = true;
  if (to_stdout) {
    if (auto written = sys::write_all(STDOUT_FILENO, text); !written) {
      log::error_line("report: stdout: " + written.error().what());
      ok = false;
    }
  }
  if (!path.empty()) {
    sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    auto written = fd ? sys::write_all(fd.get(), text) : aj::Status(fail_errno("open"));
    if (!written) {
      log::error_line("report: " + path + ": " + written.error().what());
      ok = false;
    }
  }
  return ok;
}

}  // namespace aj::report
