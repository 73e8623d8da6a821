// IP addresses as plain values: parsing and printing (IPv4 and IPv6, an IPv4 address inside
// IPv6 as ::ffff:a.b.c.d), CIDR ranges, and the classification that decides which addresses
// a name may resolve to (docs/network.md, "Addresses that are never reached").
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aj::net {

// An IPv4 or IPv6 address. IPv4 is kept as 4 bytes; an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d, what a dual-stack socket reports for IPv4 peers) is normalised to IPv4 by
// from_sockaddr(), never by parse().
struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4: the first 4

  static Address v4_from(uint32_t host_order);
  // "192.0.2.1" or "2001:db8::1" (no brackets, no zone); nullopt otherwise.
  static std::optional<Address> parse(std::string_view text);
  // From a sockaddr_in or sockaddr_in6 (mapped IPv4 becomes IPv4); nullopt for other families.
  static std::optional<Address> from_sockaddr(const sockaddr* sa, socklen_t len);

  size_t size() const { return v6 ? 16 : 4; }
  uint32_t v4_host_order() const;
  std::string to_string() const;
  // A sockaddr_in/_in6 for connect() or sendto(); *len gets its size.
  sockaddr_storage to_sockaddr(uint16_t port, socklen_t* len) const;
  // As an IPv6 address (IPv4 becomes ::ffff:a.b.c.d), for sockets of family AF_INET6.
  Address as_v6() const;
  // The embedded IPv4 address of ::ffff:0:0/96 (mapped) or ::/96 (compatible); nullopt otherwise.
  std::optional<Address> embedded_v4() const;

  friend bool operator==(const Address&, const Address&) = default;
};

// "host:port" with IPv6 in brackets ("[2001:db8::1]:443").
std::string to_string(const Address& address, uint16_t port);

// A CIDR range: address and prefix length (0..32 or 0..128).
struct Cidr {
  Address base;  // host bits zero
  int prefix = 0;

  // "203.0.113.0/24", "2001:db8::/32", or a bare address (a /32 or /128). The host bits
  // must be zero ("10.0.0.1/8" is an error: it usually means a typo).
  static std::optional<Cidr> parse(std::string_view text, std::string* error = nullptr);
  bool contains(const Address& address) const;
  std::string to_string() const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

// What an address is, for the refusal of names that resolve to places a jail must not reach.
enum class AddressClass {
  global,          // an ordinary Internet address
  unspecified,     // 0.0.0.0, ::
  this_network,    // 0.0.0.0/8
  loopback,        // 127.0.0.0/8, ::1
  private_v4,      // RFC 1918: 10/8, 172.16/12, 192.168/16
  cgnat,           // 100.64.0.0/10 (RFC 6598)
  link_local,      // 169.254.0.0/16, fe80::/10: cloud metadata services live here
  ietf_reserved,   // 192.0.0.0/24, 240.0.0.0/4, 2001::/23, 100::/64, fec0::/10, 5f00::/16
  benchmarking,    // 198.18.0.0/15, 2001:2::/48 (the jail's fake DNS answers come from 198.18/15)
  documentation,   // 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20
  multicast,       // 224.0.0.0/4, ff00::/8
  broadcast,       // 255.255.255.255
  ula,             // fc00::/7
  mapped_v4,       // ::ffff:0:0/96, ::/96 (IPv4-compatible), 64:ff9b:1::/48 (local NAT64)
};
AddressClass classify(const Address& address);
// "loopback", "link-local", ...: for messages.
const char* to_string(AddressClass cls);
// Whether a name may resolve to it without the policy saying so (a CIDR rule or a resolve entry).
inline bool is_public(const Address& address) { return classify(address) == AddressClass::global; }

}  // namespace aj::net
