/* An i386 system call through int 0x80 from a 64-bit process: must be refused by the filter's
 * architecture check (AUDIT_ARCH_I386 is not the native ABI). getppid is 64 there. */
#include "sc_probe.h"

int main(void) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(64L) : "memory");
  if (ret < 0 && ret > -4096) {
    errno = (int)-ret;
    ret = -1;
  }
  return probe_report("int 0x80 getppid (i386)", ret);
}
