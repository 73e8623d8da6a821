/* fd9 FILE CMD [ARG...]: opens FILE on fd 9 and execs CMD. bench/run.sh hands bubblewrap its
 * seccomp filter this way (bwrap --seccomp 9), and runs every other variant through it too,
 * so that each pays the same for it. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fputs("usage: fd9 FILE CMD [ARG...]\n", stderr);
    return 2;
  }
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0 || dup2(fd, 9) < 0) {
    perror(argv[1]);
    return 2;
  }
  if (fd != 9) close(fd);
  execvp(argv[2], argv + 2);
  perror(argv[2]);
  return 127;
}
