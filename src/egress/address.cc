#include "egress/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace aj::net {

Address Address::v4_from(uint32_t host_order) {
  Address a;
  a.bytes[0] = uint8_t(host_order >> 24);
  a.bytes[1] = uint8_t(host_order >> 16);
  a.bytes[2] = uint8_t(host_order >> 8);
  a.bytes[3] = uint8_t(host_order);
  return a;
}

uint32_t Address::v4_host_order() const {
  return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | bytes[3];
}

std::optional<Address> Address::parse(std::string_view text) {
  // inet_pton is strict (no leading zeros in IPv4 octets, no zones, no brackets); it needs a
  // NUL-terminated copy, and anything longer than the longest IPv6 text is not an address.
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  char buffer[INET6_ADDRSTRLEN + 1];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  Address a;
  if (inet_pton(AF_INET, buffer, a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, buffer, a.bytes.data()) == 1) {
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

std::optional<Address> Address::from_sockaddr(const sockaddr* sa, socklen_t len) {
  Address a;
  if (sa->sa_family == AF_INET && len >= socklen_t(sizeof(sockaddr_in))) {
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return a;
  }
  if (sa->sa_family == AF_INET6 && len >= socklen_t(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(&in6->sin6_addr, kMapped, 12) == 0) {
      std::memcpy(a.bytes.data(), reinterpret_cast<const uint8_t*>(&in6->sin6_addr) + 12, 4);
      return a;
    }
    a.v6 = true;
    std::memcpy(a.bytes.data(), &in6->sin6_addr, 16);
    return a;
  }
  return std::nullopt;
}

std::string Address::to_string() const {
  char buffer[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof buffer);
  return buffer;
}

sockaddr_storage Address::to_sockaddr(uint16_t port, socklen_t* len) const {
  sockaddr_storage storage{};
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    std::memcpy(&in6->sin6_addr, bytes.data(), 16);
    *len = sizeof(sockaddr_in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    std::memcpy(&in4->sin_addr, bytes.data(), 4);
    *len = sizeof(sockaddr_in);
  }
  return storage;
}

Address Address::as_v6() const {
  if (v6) return *this;
  Address a;
  a.v6 = true;
  a.bytes[10] = a.bytes[11] = 0xff;
  std::memcpy(a.bytes.data() + 12, bytes.data(), 4);
  return a;
}

std::optional<Address> Address::embedded_v4() const {
  if (!v6) return std::nullopt;
  for (int i = 0; i < 10; ++i)
    if (bytes[i] != 0) return std::nullopt;
  bool mapped = bytes[10] == 0xff && bytes[11] == 0xff;
  bool compatible = bytes[10] == 0 && bytes[11] == 0;
  if (!mapped && !compatible) return std::nullopt;
  Address a;
  std::memcpy(a.bytes.data(), bytes.data() + 12, 4);
  return a;
}

std::string to_string(const Address& address, uint16_t port) {
  if (address.v6) return "[" + address.to_string() + "]:" + std::to_string(port);
  return address.to_string() + ":" + std::to_string(port);
}

namespace {

// Whether the first `prefix` bits of a and b agree.
bool same_prefix(const uint8_t* a, const uint8_t* b, int prefix) {
  int whole = prefix / 8;
  if (std::memcmp(a, b, size_t(whole)) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = uint8_t(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

bool host_bits_zero(const Address& a, int prefix) {
  int bits = int(a.size()) * 8;
  for (int bit = prefix; bit < bits; ++bit)
    if (a.bytes[size_t(bit / 8)] & (0x80 >> (bit % 8))) return false;
  return true;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* error) {
  auto say = [&](std::string message) {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  size_t slash = text.find('/');
  auto address = Address::parse(text.substr(0, slash));
  if (!address) return say("not an IP address: " + std::string(text.substr(0, slash)));
  int max_prefix = address->v6 ? 128 : 32;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return say("bad prefix length /" + std::string(digits));
    prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return say("bad prefix length /" + std::string(digits));
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max_prefix)
      return say("prefix length /" + std::string(digits) + " is longer than " + std::to_string(max_prefix));
  }
  if (!host_bits_zero(*address, prefix))
    return say(std::string(text) + " has host bits set (the network is " +
               Cidr{*address, prefix}.to_string() + "?)");
  return Cidr{*address, prefix};
}

bool Cidr::contains(const Address& address) const {
  if (address.v6 != base.v6) {
    // An IPv4 range contains the mapped form of its addresses and vice versa; everything else
    // of the other family is outside.
    if (auto v4 = address.embedded_v4(); v4 && !base.v6) return contains(*v4);
    return false;
  }
  return same_prefix(address.bytes.data(), base.bytes.data(), prefix);
}

std::string Cidr::to_string() const {
  // The network of a possibly unmasked base, for the "did you mean" message above.
  Address network = base;
  int bits = int(base.size()) * 8;
  for (int bit = prefix; bit < bits; ++bit) network.bytes[size_t(bit / 8)] &= uint8_t(~(0x80 >> (bit % 8)));
  return network.to_string() + "/" + std::to_string(prefix);
}

namespace {

struct Range {
  uint8_t bytes[16];
  int prefix;
  AddressClass cls;
};

// Longest prefixes first where ranges nest (none of these do, except where noted).
constexpr Range kV4[] = {
    {{0, 0, 0, 0}, 32, AddressClass::unspecified},
    {{0}, 8, AddressClass::this_network},
    {{10}, 8, AddressClass::private_v4},
    {{100, 64}, 10, AddressClass::cgnat},
    {{127}, 8, AddressClass::loopback},
    {{169, 254}, 16, AddressClass::link_local},
    {{172, 16}, 12, AddressClass::private_v4},
    {{192, 0, 0}, 24, AddressClass::ietf_reserved},
    {{192, 0, 2}, 24, AddressClass::documentation},
    {{192, 88, 99}, 24, AddressClass::ietf_reserved},  // the retired 6to4 relay anycast
    {{192, 168}, 16, AddressClass::private_v4},
    {{198, 18}, 15, AddressClass::benchmarking},
    {{198, 51, 100}, 24, AddressClass::documentation},
    {{203, 0, 113}, 24, AddressClass::documentation},
    {{224}, 4, AddressClass::multicast},
    {{255, 255, 255, 255}, 32, AddressClass::broadcast},  // before 240/4, which contains it
    {{240}, 4, AddressClass::ietf_reserved},
};

constexpr Range kV6[] = {
    {{0}, 128, AddressClass::unspecified},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, AddressClass::loopback},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, AddressClass::mapped_v4},
    {{0}, 96, AddressClass::mapped_v4},  // IPv4-compatible (deprecated)
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48, AddressClass::mapped_v4},  // local-use NAT64 (RFC 8215)
    {{0x01, 0x00, 0, 0, 0, 0, 0, 0}, 64, AddressClass::ietf_reserved},  // discard-only
    {{0x20, 0x01, 0x00, 0x02, 0, 0}, 48, AddressClass::benchmarking},  // inside 2001::/23
    {{0x20, 0x01, 0x0d, 0xb8}, 32, AddressClass::documentation},
    {{0x20, 0x01}, 23, AddressClass::ietf_reserved},  // Teredo, ORCHID and other assignments
    {{0x3f, 0xff}, 20, AddressClass::documentation},
    {{0x5f, 0x00}, 16, AddressClass::ietf_reserved},  // SRv6 SIDs
    {{0xfc}, 7, AddressClass::ula},
    {{0xfe, 0x80}, 10, AddressClass::link_local},
    {{0xfe, 0xc0}, 10, AddressClass::ietf_reserved},  // site-local (deprecated)
    {{0xff}, 8, AddressClass::multicast},
};

}  // namespace

AddressClass classify(const Address& address) {
  if (!address.v6) {
    for (const Range& r : kV4)
      if (same_prefix(address.bytes.data(), r.bytes, r.prefix)) return r.cls;
    return AddressClass::global;
  }
  for (const Range& r : kV6)
    if (same_prefix(address.bytes.data(), r.bytes, r.prefix)) return r.cls;
  // Prefixes that embed an IPv4 address the packet ends up at: the well-known NAT64 prefix
  // (64:ff9b::/96, DNS64 networks answer every IPv4-only name with one) and 6to4 (2002::/16).
  // They are as reachable as the IPv4 address inside.
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b};
  if (std::memcmp(address.bytes.data(), kNat64, 12) == 0) {
    Address inner;
    std::memcpy(inner.bytes.data(), address.bytes.data() + 12, 4);
    return classify(inner);
  }
  if (address.bytes[0] == 0x20 && address.bytes[1] == 0x02) {
    Address inner;
    std::memcpy(inner.bytes.data(), address.bytes.data() + 2, 4);
    return classify(inner);
  }
  return AddressClass::global;
}

const char* to_string(AddressClass cls) {
  switch (cls) {
    case AddressClass::global: return "global";
    case AddressClass::unspecified: return "unspecified";
    case AddressClass::this_network: return "this-network";
    case AddressClass::loopback: return "loopback";
    case AddressClass::private_v4: return "private (RFC 1918)";
    case AddressClass::cgnat: return "shared address space (CGNAT)";
    case AddressClass::link_local: return "link-local";
    case AddressClass::ietf_reserved: return "reserved";
    case AddressClass::benchmarking: return "benchmarking";
    case AddressClass::documentation: return "documentation";
    case AddressClass::multicast: return "multicast";
    case AddressClass::broadcast: return "broadcast";
    case AddressClass::ula: return "unique local (ULA)";
    case AddressClass::mapped_v4: return "IPv4-mapped";
  }
  return "?";
}

}  // namespace aj::net
