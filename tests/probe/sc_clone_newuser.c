/* clone(CLONE_NEWUSER): must be refused by the seccomp filter (namespace flags). */
#include "sc_probe.h"
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

int main(void) {
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid((pid_t)pid, NULL, 0);
  return probe_report("clone(CLONE_NEWUSER)", pid);
}
