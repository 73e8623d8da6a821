/* keyctl(GET_KEYRING_ID, session): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <linux/keyctl.h>

int main(void) {
  return probe_report("keyctl(GET_KEYRING_ID, session)", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1));
}
