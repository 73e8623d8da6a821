/* ptrace(PTRACE_TRACEME): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <sys/ptrace.h>

int main(void) {
  return probe_report("ptrace(PTRACE_TRACEME)", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}
