/* clone3(CLONE_NEWUSER): the filter answers every clone3 with ENOSYS (its flags are in memory
 * seccomp cannot read), so libc falls back to clone, whose flags it checks. */
#include "sc_probe.h"
#include <linux/sched.h>
#include <signal.h>
#include <sys/wait.h>

int main(void) {
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid((pid_t)pid, NULL, 0);
  return probe_report("clone3(CLONE_NEWUSER)", pid);
}
