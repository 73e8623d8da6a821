/* x32 getppid (nr | 0x40000000): must be refused by the seccomp filter. */
#include "sc_probe.h"

int main(void) {
  return probe_report("x32 getppid (nr | 0x40000000)", syscall(0x40000000 | SYS_getppid));
}
