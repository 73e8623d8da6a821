#include "egress/address.h"

#include <doctest/doctest.h>

using namespace aj::net;

namespace {
AddressClass cls(std::string_view text) {
  auto address = Address::parse(text);
  REQUIRE_MESSAGE(address.has_value(), std::string(text));
  return classify(*address);
}
}  // namespace

TEST_CASE("net address: parse and print") {
  CHECK(Address::parse("192.0.2.1")->to_string() == "192.0.2.1");
  CHECK(Address::parse("2001:DB8::1")->to_string() == "2001:db8::1");
  CHECK_FALSE(Address::parse("192.0.2.01").has_value());  // no octal-looking octets
  CHECK_FALSE(Address::parse("[::1]").has_value());
  CHECK_FALSE(Address::parse("fe80::1%lo").has_value());
  CHECK_FALSE(Address::parse("").has_value());
  CHECK(to_string(*Address::parse("::1"), 443) == "[::1]:443");
  CHECK(to_string(*Address::parse("127.0.0.1"), 80) == "127.0.0.1:80");
}

TEST_CASE("net address: a dual-stack socket's mapped IPv4 peer reads as IPv4") {
  socklen_t len;
  sockaddr_storage ss = Address::parse("203.0.113.5")->as_v6().to_sockaddr(443, &len);
  CHECK(len == sizeof(sockaddr_in6));
  auto back = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  REQUIRE(back.has_value());
  CHECK_FALSE(back->v6);
  CHECK(back->to_string() == "203.0.113.5");
}

TEST_CASE("net address: CIDR ranges") {
  auto range = Cidr::parse("10.0.0.0/8");
  REQUIRE(range.has_value());
  CHECK(range->contains(*Address::parse("10.255.1.2")));
  CHECK_FALSE(range->contains(*Address::parse("11.0.0.1")));
  CHECK(range->contains(*Address::parse("::ffff:10.1.2.3")));  // mapped form, same address
  CHECK_FALSE(range->contains(*Address::parse("2001:db8::1")));
  CHECK(Cidr::parse("0.0.0.0/0")->contains(*Address::parse("198.51.100.1")));
  CHECK(Cidr::parse("2001:db8::/33")->contains(*Address::parse("2001:db8:7fff::1")));
  CHECK_FALSE(Cidr::parse("2001:db8::/33")->contains(*Address::parse("2001:db8:8000::1")));
  std::string error;
  CHECK_FALSE(Cidr::parse("10.0.0.1/8", &error).has_value());
  CHECK(error.find("10.0.0.0/8") != std::string::npos);
  CHECK_FALSE(Cidr::parse("10.0.0.0/", &error).has_value());
  CHECK_FALSE(Cidr::parse("10.0.0.0/-1", &error).has_value());
  CHECK_FALSE(Cidr::parse("::/129", &error).has_value());
}

TEST_CASE("net address: where names may not resolve to") {
  CHECK(cls("151.101.0.223") == AddressClass::global);
  CHECK(cls("2a04:4e42::223") == AddressClass::global);
  CHECK(cls("0.0.0.0") == AddressClass::unspecified);
  CHECK(cls("0.1.2.3") == AddressClass::this_network);
  CHECK(cls("127.0.0.1") == AddressClass::loopback);
  CHECK(cls("127.255.0.9") == AddressClass::loopback);
  CHECK(cls("10.0.0.1") == AddressClass::private_v4);
  CHECK(cls("172.16.0.1") == AddressClass::private_v4);
  CHECK(cls("172.31.255.255") == AddressClass::private_v4);
  CHECK(cls("172.32.0.1") == AddressClass::global);
  CHECK(cls("192.168.1.1") == AddressClass::private_v4);
  CHECK(cls("100.64.0.1") == AddressClass::cgnat);
  CHECK(cls("100.127.255.255") == AddressClass::cgnat);
  CHECK(cls("100.128.0.1") == AddressClass::global);
  CHECK(cls("169.254.169.254") == AddressClass::link_local);
  CHECK(cls("192.0.0.170") == AddressClass::ietf_reserved);
  CHECK(cls("192.0.2.1") == AddressClass::documentation);
  CHECK(cls("198.51.100.1") == AddressClass::documentation);
  CHECK(cls("203.0.113.1") == AddressClass::documentation);
  CHECK(cls("198.18.0.1") == AddressClass::benchmarking);
  CHECK(cls("198.19.255.255") == AddressClass::benchmarking);
  CHECK(cls("224.0.0.251") == AddressClass::multicast);
  CHECK(cls("255.255.255.255") == AddressClass::broadcast);
  CHECK(cls("240.0.0.1") == AddressClass::ietf_reserved);
  CHECK(cls("::") == AddressClass::unspecified);
  CHECK(cls("::1") == AddressClass::loopback);
  CHECK(cls("::ffff:8.8.8.8") == AddressClass::mapped_v4);
  CHECK(cls("::8.8.8.8") == AddressClass::mapped_v4);
  CHECK(cls("fe80::1") == AddressClass::link_local);
  CHECK(cls("fd00:ec2::254") == AddressClass::ula);  // EC2's IPv6 metadata service
  CHECK(cls("fc00::1") == AddressClass::ula);
  CHECK(cls("ff02::1") == AddressClass::multicast);
  CHECK(cls("2001:db8::1") == AddressClass::documentation);
  CHECK(cls("2001::1") == AddressClass::ietf_reserved);  // Teredo
  CHECK(cls("fec0::1") == AddressClass::ietf_reserved);
  CHECK(cls("64:ff9b:1::1") == AddressClass::mapped_v4);
  // Prefixes that carry an IPv4 address are judged by it.
  CHECK(cls("64:ff9b::8.8.8.8") == AddressClass::global);
  CHECK(cls("64:ff9b::10.0.0.1") == AddressClass::private_v4);
  CHECK(cls("64:ff9b::169.254.169.254") == AddressClass::link_local);
  CHECK(cls("2002:a9fe:a9fe::1") == AddressClass::link_local);  // 6to4 of 169.254.169.254
  CHECK(cls("2002:0808:0808::1") == AddressClass::global);
}
