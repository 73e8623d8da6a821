/* umount2(/proc, MNT_DETACH): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <sys/mount.h>

int main(void) {
  return probe_report("umount2(/proc, MNT_DETACH)", umount2("/proc", MNT_DETACH));
}
