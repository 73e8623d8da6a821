/* A syscall-heavy loop for measuring what the seccomp filter costs per call.
 *   syscall_loop KIND [N]   KIND: getppid | read | ioctl   N: iterations (default 10000000)
 * Prints one line: "KIND N ns_per_call", in CPU time of this thread (user + system), so time
 * spent waiting for a CPU on a busy machine does not count. getppid goes through the filter's
 * binary tree only (the kernel caches its constant verdict);
 * read(/dev/zero, 1 byte) adds a little real work; ioctl(FIONREAD) also walks the argument
 * patterns that keep TIOCSTI out, the longest path an everyday call takes. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s getppid|read|ioctl [N]\n", argv[0]);
    return 2;
  }
  const char *kind = argv[1];
  long n = argc > 2 ? atol(argv[2]) : 10000000L;
  int fd = -1, pipefd[2];
  char byte;
  if (strcmp(kind, "read") == 0 && (fd = open("/dev/zero", O_RDONLY)) < 0) return perror("open /dev/zero"), 1;
  if (strcmp(kind, "ioctl") == 0) {
    if (pipe(pipefd) != 0) return perror("pipe"), 1;
    fd = pipefd[0];
  }
  int pending = 0;
  double start = now_ns();
  for (long i = 0; i < n; ++i) {
    long rc;
    if (kind[0] == 'g')
      rc = syscall(SYS_getppid);
    else if (kind[0] == 'r')
      rc = syscall(SYS_read, fd, &byte, 1);
    else
      rc = syscall(SYS_ioctl, fd, FIONREAD, &pending);
    if (rc < 0) return perror(kind), 1;
  }
  double elapsed = now_ns() - start;
  printf("%s %ld %.2f\n", kind, n, elapsed / n);
  return 0;
}
