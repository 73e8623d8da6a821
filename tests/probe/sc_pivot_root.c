/* pivot_root(/tmp, /tmp): must be refused by the seccomp filter. */
#include "sc_probe.h"

int main(void) {
  return probe_report("pivot_root(/tmp, /tmp)", syscall(SYS_pivot_root, "/tmp", "/tmp"));
}
