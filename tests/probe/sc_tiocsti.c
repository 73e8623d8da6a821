/* ioctl(TIOCSTI): pushes input into a terminal, the classic sandbox escape through a shared
 * tty. The probe makes a fresh pty its controlling terminal, so the kernel itself would allow
 * the call; argv[1] = "high" sets bits above 32 in the request, which the kernel ignores and a
 * careless 64-bit comparison would not. */
#include "sc_probe.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>

int main(int argc, char **argv) {
  int high = argc > 1 && strcmp(argv[1], "high") == 0;
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return probe_setup_failed("posix_openpt");
  if (grantpt(master) != 0 || unlockpt(master) != 0) return probe_setup_failed("unlockpt");
  const char *name = ptsname(master);
  if (!name) return probe_setup_failed("ptsname");
  (void)setsid(); /* fails harmlessly when we already lead a session */
  int slave = open(name, O_RDWR | O_CLOEXEC);
  if (slave < 0) return probe_setup_failed("open the pty");
  (void)ioctl(slave, TIOCSCTTY, 0);
  uint64_t request = TIOCSTI | (high ? (UINT64_C(1) << 32) : 0);
  char c = 'x';
  return probe_report(high ? "ioctl(TIOCSTI | 1<<32)" : "ioctl(TIOCSTI)", syscall(SYS_ioctl, slave, request, &c));
}
