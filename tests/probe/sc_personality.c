/* personality(ADDR_NO_RANDOMIZE): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <sys/personality.h>

int main(void) {
  return probe_report("personality(ADDR_NO_RANDOMIZE)", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
}
