/* socket(AF_INET): must be refused when network.mode = "none" (allowed with loopback and host). */
#include "sc_probe.h"
#include <sys/socket.h>

int main(void) {
  return probe_report("socket(AF_INET)", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
}
