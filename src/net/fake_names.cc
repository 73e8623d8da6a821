#include "net/fake_names.h"

namespace aj::net {

namespace {
constexpr uint32_t kV4Base = 198u << 24 | 18u << 16;  // 198.18.0.0/15
constexpr uint8_t kV6Prefix[8] = {0xfd, 0x6a, 0x61, 0x69, 0x6c, 0x00, 0x00, 0x00};
}  // namespace

FakeNames::Pair FakeNames::addresses(size_t index) {
  uint32_t n = uint32_t(index) + 1;  // .0 is not handed out
  Pair pair;
  pair.v4 = Address::v4_from(kV4Base + n);
  pair.v6.v6 = true;
  for (int i = 0; i < 8; ++i) pair.v6.bytes[size_t(i)] = kV6Prefix[i];
  pair.v6.bytes[12] = uint8_t(n >> 24);
  pair.v6.bytes[13] = uint8_t(n >> 16);
  pair.v6.bytes[14] = uint8_t(n >> 8);
  pair.v6.bytes[15] = uint8_t(n);
  return pair;
}

std::optional<FakeNames::Pair> FakeNames::assign(const std::string& name) {
  if (auto it = index_.find(name); it != index_.end()) return addresses(it->second);
  if (names_.size() >= kMaxNames) return std::nullopt;
  index_.emplace(name, names_.size());
  names_.push_back(name);
  return addresses(names_.size() - 1);
}

bool FakeNames::in_fake_range(const Address& a) {
  if (!a.v6) return (a.v4_host_order() & 0xfffe0000u) == kV4Base;
  for (int i = 0; i < 8; ++i)
    if (a.bytes[size_t(i)] != kV6Prefix[i]) return false;
  return true;
}

std::optional<std::string> FakeNames::name_of(const Address& a) const {
  if (!in_fake_range(a)) return std::nullopt;
  uint64_t n;
  if (!a.v6) {
    n = a.v4_host_order() - kV4Base;
  } else {
    for (int i = 8; i < 12; ++i)
      if (a.bytes[size_t(i)] != 0) return std::nullopt;
    n = uint64_t(a.bytes[12]) << 24 | uint64_t(a.bytes[13]) << 16 | uint64_t(a.bytes[14]) << 8 | a.bytes[15];
  }
  if (n == 0 || n > names_.size()) return std::nullopt;
  return names_[n - 1];
}

}  // namespace aj::net
