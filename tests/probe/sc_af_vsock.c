/* socket(AF_VSOCK): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <sys/socket.h>

int main(void) {
  return probe_report("socket(AF_VSOCK)", socket(AF_VSOCK, SOCK_STREAM, 0));
}
