// What the jail's init does for network.mode = "allowlist", inside the jail's fresh network
// namespace and before the command runs (the init's step table calls these in this order):
//
//   1. bring_up_anyip(): lo up, then the AnyIP routes "local 0.0.0.0/0 dev lo" and
//      "local ::/0 dev lo" in the local table (rtnetlink; CAP_NET_ADMIN in the namespace's own
//      user namespace is enough). Every address is then local: a connect() to any address
//      reaches a listener on its port, a UDP datagram to port 53 of any address our DNS socket.
//   2. make_listeners(): one dual-stack TCP listener [::]:PORT for each of listener_ports(), and
//      one UDP socket [::]:53 that reports each datagram's destination (IPV6_RECVPKTINFO,
//      IP_PKTINFO) and may send from it (IPV6_FREEBIND: an AnyIP IPv6 address is not one the
//      kernel lets a socket use as source otherwise).
//   3. The init passes the sockets to the supervisor over the sync socket (SCM_RIGHTS) and
//      closes its copies: no process of the jail may hold one (it could accept the jail's own
//      connections before the broker does).
//
// Everything else stays closed: a TCP port without a listener answers RST (ECONNREFUSED), UDP
// to a port other than 53 gets ICMP port unreachable (ECONNREFUSED on a connected socket), and
// no packet ever leaves: the namespace has no device but lo.
#pragma once

#include <cstdint>
#include <set>
#include <vector>

#include "base/error.h"
#include "egress/config.h"
#include "sys/fd.h"

namespace aj::net {

// 53 (DNS over TCP), 80, 443, 3128 (the proxy, on 127.0.0.1 and ::1 only by the broker's
// choice: the listener is a wildcard like the others) and every port an allow entry names.
// Fails on an invalid entry, as Broker::create would.
Result<std::set<uint16_t>> listener_ports(const Config& config);

struct AnyIp {
  bool ipv6 = false;  // the ::/0 route is in (false where the kernel has IPv6 off)
};
// Steps 1: lo up and the AnyIP routes, in the calling thread's network namespace.
Result<AnyIp> bring_up_anyip();

// Step 2. IPv6 sockets (dual-stack) when `ipv6`, else IPv4 ones. Close-on-exec, blocking.
Result<std::vector<sys::UniqueFd>> make_listeners(const std::set<uint16_t>& tcp_ports, bool ipv6);

}  // namespace aj::net
