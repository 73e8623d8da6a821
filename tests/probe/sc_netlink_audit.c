/* socket(AF_NETLINK, NETLINK_AUDIT): must be refused in every network mode. */
#include "sc_probe.h"
#include <sys/socket.h>
#include <linux/netlink.h>

int main(void) {
  return probe_report("socket(AF_NETLINK, NETLINK_AUDIT)", socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
}
