/* socket(AF_KEY): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <sys/socket.h>

int main(void) {
  return probe_report("socket(AF_KEY)", socket(AF_KEY, SOCK_RAW, 2 /* PF_KEY_V2 */));
}
