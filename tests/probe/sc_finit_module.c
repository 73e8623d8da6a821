/* finit_module(/proc/self/exe): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <fcntl.h>

int main(void) {
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return probe_setup_failed("open /proc/self/exe");
  return probe_report("finit_module(/proc/self/exe)", syscall(SYS_finit_module, fd, "", 0));
}
