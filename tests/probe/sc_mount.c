/* mount(tmpfs, /tmp): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <sys/mount.h>

int main(void) {
  return probe_report("mount(tmpfs, /tmp)", mount("none", "/tmp", "tmpfs", 0, NULL));
}
