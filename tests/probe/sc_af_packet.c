/* socket(AF_PACKET): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>

int main(void) {
  return probe_report("socket(AF_PACKET)", socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
}
