/* socket(AF_NETLINK, NETLINK_ROUTE): must be refused when network.mode = "none" (allowed otherwise). */
#include "sc_probe.h"
#include <sys/socket.h>
#include <linux/netlink.h>

int main(void) {
  return probe_report("socket(AF_NETLINK, NETLINK_ROUTE)", socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
}
