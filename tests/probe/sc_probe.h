/* Shared by tests/probe/sc_*.c. Each probe makes one system call that the jail's seccomp
 * filter must refuse and prints exactly one line for tests/integration/test_seccomp.py:
 *   "BLOCKED errno=N <call>: <strerror>"  the call failed (exit 0);
 *   "ALLOWED <call>"                      it worked (exit 1);
 *   "SETUP <what>: <strerror>"            the probe could not even prepare it (exit 2).
 * A filter with default_action "kill" ends the probe by SIGSYS before it prints anything. */
#ifndef AGENTJAIL_SC_PROBE_H
#define AGENTJAIL_SC_PROBE_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int probe_report(const char *call, long rc) {
  if (rc < 0) {
    int err = errno;
    printf("BLOCKED errno=%d %s: %s\n", err, call, strerror(err));
    fflush(stdout);
    return 0;
  }
  printf("ALLOWED %s\n", call);
  fflush(stdout);
  return 1;
}

static inline int probe_setup_failed(const char *what) {
  printf("SETUP %s: %s\n", what, strerror(errno));
  fflush(stdout);
  return 2;
}

#endif
