/* userfaultfd: must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <fcntl.h>

int main(void) {
  return probe_report("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */));
}
