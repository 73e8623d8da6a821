// install(): runs in the command child after clone, so only async-signal-safe calls here.
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "seccomp/filter.h"

namespace aj::seccomp {

int install(const Filter& filter, int* listener) noexcept {
  *listener = -1;
  if (filter.program.empty() || filter.program.size() > USHRT_MAX) return -EINVAL;
  sock_fprog prog{static_cast<unsigned short>(filter.program.size()), const_cast<sock_filter*>(filter.program.data())};
  // The seccomp() syscall rather than prctl(): only it can ask for a listener. No TSYNC: the
  // child is single-threaded. No SPEC_ALLOW: keep the kernel's speculative-store-bypass
  // mitigation for filtered tasks.
  unsigned int flags = filter.notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) return -errno;
  if (filter.notify) *listener = static_cast<int>(rc);  // the kernel opens it O_CLOEXEC
  return 0;
}

}  // namespace aj::seccomp
