/* fsopen(tmpfs): must be refused by the seccomp filter. */
#include "sc_probe.h"

int main(void) {
  return probe_report("fsopen(tmpfs)", syscall(SYS_fsopen, "tmpfs", 0));
}
