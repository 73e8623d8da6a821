/* socket(AF_ALG): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <sys/socket.h>

int main(void) {
  return probe_report("socket(AF_ALG)", socket(AF_ALG, SOCK_SEQPACKET, 0));
}
