#include "net/jail_side.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "net/broker_impl.h"
#include "egress/rules.h"

namespace aj::net {

Result<std::set<uint16_t>> listener_ports(const Config& config) {
  auto rules = RuleSet::parse(config.allow);
  if (!rules) return std::unexpected(rules.error());
  std::set<uint16_t> ports = rules->ports();
  ports.insert({kDnsPort, 80, 443, kProxyPort});
  return ports;
}

namespace {

// One rtnetlink request, answered by an ACK or an error.
Status netlink_request(int fd, nlmsghdr* request, const char* what) {
  static uint32_t sequence = 0;
  request->nlmsg_seq = ++sequence;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, request, request->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return fail_errno(std::string("netlink ") + what);
  alignas(nlmsghdr) char answer[1024];
  for (;;) {
    ssize_t n = recv(fd, answer, sizeof answer, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(std::string("netlink ") + what);
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(answer); NLMSG_OK(h, size_t(n)); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != request->nlmsg_seq || h->nlmsg_type != NLMSG_ERROR) continue;
      int error = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      if (error != 0) return fail(error, std::string("netlink ") + what);
      return {};
    }
  }
}

void add_attribute(nlmsghdr* h, size_t capacity, uint16_t type, const void* data, size_t length) {
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(h) + NLMSG_ALIGN(h->nlmsg_len));
  size_t size = RTA_LENGTH(length);
  if (NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(size) > capacity) return;  // our messages are fixed and fit
  rta->rta_type = type;
  rta->rta_len = uint16_t(size);
  std::memcpy(RTA_DATA(rta), data, length);
  h->nlmsg_len = uint32_t(NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(size));
}

Status set_link_up(int fd, int index) {
  struct {
    nlmsghdr header;
    ifinfomsg info;
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  request.header.nlmsg_type = RTM_NEWLINK;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  request.info.ifi_family = AF_UNSPEC;
  request.info.ifi_index = index;
  request.info.ifi_flags = IFF_UP;
  request.info.ifi_change = IFF_UP;
  return netlink_request(fd, &request.header, "set lo up");
}

// "ip route add local 0.0.0.0/0 dev lo table local" (or ::/0).
Status add_anyip_route(int fd, int family, int index) {
  struct {
    nlmsghdr header;
    rtmsg route;
    char attributes[64];
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  request.header.nlmsg_type = RTM_NEWROUTE;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  request.route.rtm_family = uint8_t(family);
  request.route.rtm_dst_len = 0;
  request.route.rtm_table = RT_TABLE_LOCAL;
  request.route.rtm_protocol = RTPROT_BOOT;
  request.route.rtm_scope = RT_SCOPE_HOST;
  request.route.rtm_type = RTN_LOCAL;
  uint32_t oif = uint32_t(index);
  add_attribute(&request.header, sizeof request, RTA_OIF, &oif, sizeof oif);
  return netlink_request(fd, &request.header, family == AF_INET6 ? "add local ::/0 route" : "add local 0.0.0.0/0 route");
}

}  // namespace

Result<AnyIp> bring_up_anyip() {
  sys::UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return fail_errno("netlink socket");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return fail_errno("netlink bind");
  int lo = int(if_nametoindex("lo"));
  if (lo == 0) return fail_errno("if_nametoindex lo");
  // lo first: the kernel refuses routes over a device that is down.
  if (auto up = set_link_up(fd.get(), lo); !up) return std::unexpected(up.error());
  if (auto v4 = add_anyip_route(fd.get(), AF_INET, lo); !v4) return std::unexpected(v4.error());
  AnyIp result;
  // IPv6 may be off (ipv6.disable=1, or disable_ipv6 for new namespaces): the jail then has
  // IPv4 only, and DNS answers no AAAA.
  auto v6 = add_anyip_route(fd.get(), AF_INET6, lo);
  if (v6) {
    result.ipv6 = true;
  } else if (v6.error().code != EAFNOSUPPORT && v6.error().code != EACCES && v6.error().code != EOPNOTSUPP) {
    return std::unexpected(v6.error());
  }
  return result;
}

namespace {

Status set_option(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) return fail_errno(std::string("setsockopt ") + what);
  return {};
}

Result<sys::UniqueFd> make_socket(int type, uint16_t port, bool ipv6) {
  std::string what = std::string(type == SOCK_DGRAM ? "udp" : "tcp") + " listener port " + std::to_string(port);
  sys::UniqueFd fd(socket(ipv6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno(what);
  auto ok = [&](Status s) -> Status { return s ? s : std::unexpected(s.error().context(what)); };
  Status s;
  if (ipv6) s = ok(set_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY"));
  if (s && type == SOCK_DGRAM) {
    s = ok(set_option(fd.get(), IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO"));
    if (s && ipv6) s = ok(set_option(fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"));
    if (s && ipv6) s = ok(set_option(fd.get(), IPPROTO_IPV6, IPV6_FREEBIND, 1, "IPV6_FREEBIND"));
    if (s) s = ok(set_option(fd.get(), IPPROTO_IP, IP_FREEBIND, 1, "IP_FREEBIND"));
  }
  if (!s) return std::unexpected(s.error());
  sockaddr_storage address{};
  socklen_t len;
  if (ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr = in6addr_any;
    len = sizeof *in6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&address);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    in4->sin_addr.s_addr = htonl(INADDR_ANY);
    len = sizeof *in4;
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), len) != 0) return fail_errno("bind " + what);
  if (type == SOCK_STREAM && listen(fd.get(), 128) != 0) return fail_errno("listen " + what);
  return fd;
}

}  // namespace

Result<std::vector<sys::UniqueFd>> make_listeners(const std::set<uint16_t>& tcp_ports, bool ipv6) {
  std::vector<sys::UniqueFd> fds;
  auto udp = make_socket(SOCK_DGRAM, kDnsPort, ipv6);
  if (!udp) return std::unexpected(udp.error());
  fds.push_back(std::move(*udp));
  for (uint16_t port : tcp_ports) {
    auto tcp = make_socket(SOCK_STREAM, port, ipv6);
    if (!tcp) return std::unexpected(tcp.error());
    fds.push_back(std::move(*tcp));
  }
  return fds;
}

}  // namespace aj::net
