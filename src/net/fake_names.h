// The names DNS answered in this run and the fake addresses it gave them: 198.18.0.0/15
// (reserved for benchmarking, RFC 2544, so never a real destination) for A, and
// fd6a:6169:6c00::/64 (a unique-local /64 of our own) for AAAA. A connection to one of these
// addresses is a connection to that name; the table is never reused across runs and never
// evicts (an answer a program cached must stay valid), so it is bounded instead.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "egress/address.h"

namespace aj::net {

class FakeNames {
 public:
  static constexpr size_t kMaxNames = 4096;

  // The addresses of `name`, allocated on first use; nullopt once kMaxNames names are held.
  struct Pair {
    Address v4, v6;
  };
  std::optional<Pair> assign(const std::string& name);
  // The name a fake address stands for; nullopt for any other address.
  std::optional<std::string> name_of(const Address& address) const;
  // Whether the address lies in either fake range (held or not).
  static bool in_fake_range(const Address& address);
  size_t size() const { return names_.size(); }

 private:
  static Pair addresses(size_t index);
  std::map<std::string, size_t> index_;
  std::vector<std::string> names_;
};

}  // namespace aj::net
