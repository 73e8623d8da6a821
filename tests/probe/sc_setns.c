/* setns(): must be refused by the seccomp filter. Joins the caller's own namespace, which the
 * kernel would otherwise allow for most types. */
#include "sc_probe.h"
#include <fcntl.h>

int main(void) {
  int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return probe_setup_failed("open /proc/self/ns/uts");
  return probe_report("setns(/proc/self/ns/uts)", syscall(SYS_setns, fd, 0));
}
