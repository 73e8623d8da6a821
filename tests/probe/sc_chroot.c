/* chroot(/tmp): must be refused by the seccomp filter. */
#include "sc_probe.h"

int main(void) {
  return probe_report("chroot(/tmp)", chroot("/tmp"));
}
