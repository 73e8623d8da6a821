/* unshare(CLONE_NEWUSER|CLONE_NEWNS): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <sched.h>

int main(void) {
  return probe_report("unshare(CLONE_NEWUSER|CLONE_NEWNS)", syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS));
}
