/* init_module: must be refused by the seccomp filter. */
#include "sc_probe.h"

int main(void) {
  static const char image[64];
  return probe_report("init_module", syscall(SYS_init_module, image, sizeof image, ""));
}
