/* A setuid bit: the jail's mounts are nosuid, but a file made setuid on a read-write bind is
 * setuid on the host, where it runs as the jail's host uid for anyone. The probe creates a file
 * in /tmp (allowed: mode 0755), then argv[1] picks the call that must be refused:
 *   "fchmodat" (default): fchmodat(AT_FDCWD, file, 04755)
 *   "chmod":              chmod(file, 04755)
 *   "open":               open(new file, O_CREAT | O_EXCL | O_WRONLY, 06755)
 * A call that returns success counts as ALLOWED even if the kernel then dropped the bit. */
#include "sc_probe.h"
#include <fcntl.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "fchmodat";
  const char *path = "/tmp/sc_chmod_setuid";
  int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
  if (fd < 0) return probe_setup_failed("create /tmp/sc_chmod_setuid");
  close(fd);
  if (strcmp(which, "chmod") == 0) return probe_report("chmod(04755)", syscall(SYS_chmod, path, 04755));
  if (strcmp(which, "open") == 0)
    return probe_report("open(O_CREAT, 06755)", syscall(SYS_open, "/tmp/sc_chmod_setuid.new",
                                                        O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 06755));
  return probe_report("fchmodat(04755)", syscall(SYS_fchmodat, AT_FDCWD, path, 04755));
}
