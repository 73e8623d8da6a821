/* add_key(user): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <linux/keyctl.h>

int main(void) {
  return probe_report("add_key(user)", syscall(SYS_add_key, "user", "agentjail", "x", 1, KEY_SPEC_PROCESS_KEYRING));
}
