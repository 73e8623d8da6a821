#include "sys/files.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

Result<UniqueFd> open_output_file(const std::string& path, int flags, unsigned mode) {
  open_how how{};
  // O_TRUNC waits for the checks below: truncating a FIFO or a device is not ours to do.
  const bool truncate = (flags & O_TRUNC) != 0;
  how.flags = static_cast<uint64_t>((flags & ~O_TRUNC) | O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  how.mode = mode;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd;
  do fd = ::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ELOOP) return fail(ELOOP, "open: a component of the path is a symlink (give the resolved path)");
    if (errno == ENXIO) return fail(ENXIO, "open: a FIFO or socket, not a regular file");
    return fail_errno("open");
  }
  UniqueFd file(static_cast<int>(fd));
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return fail_errno("fstat");
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, "not a regular file");
  // A second name for the file may be a hard link planted to make us write somewhere else.
  if (st.st_nlink > 1) return fail(EMLINK, "the file has other hard links");
  if (truncate && ::ftruncate(file.get(), 0) != 0) return fail_errno("truncate");
  return file;
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
