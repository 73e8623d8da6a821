/* kexec_load: must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <linux/kexec.h>

int main(void) {
  return probe_report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, KEXEC_ARCH_DEFAULT));
}
