#include "sys/files.h"

#include <fcntl.h>
#include <unistd.h>

#include "sys/fd.h"

namespace aj::sys {
namespace {

Result<std::string> read_all(int fd, const std::string& what) {
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read " + what);
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

Status write_once(int fd, std::string_view content, const std::string& what) {
  while (true) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("write " + what);
    if (static_cast<size_t>(n) != content.size()) return fail(EIO, "short write to " + what);
    return {};
  }
}

}  // namespace

Result<std::string> read_file(const std::string& path) { return read_file_at(AT_FDCWD, path); }

Result<std::string> read_file_at(int dirfd, const std::string& name) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open " + name);
  return read_all(fd.get(), name);
}

Status write_file(const std::string& path, std::string_view content) { return write_file_at(AT_FDCWD, path, content); }

Status write_file_at(int dirfd, const std::string& name, std::string_view content) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open " + name);
  return write_once(fd.get(), content, name);
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace aj::sys
