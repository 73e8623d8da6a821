// The allowlist: network.allow entries parsed into rules, and the questions the broker asks
// of them. An entry is one of
//
//   pypi.org               that name, ports 80 and 443
//   *.pythonhosted.org     every name below it (files.pythonhosted.org, a.b.pythonhosted.org),
//                          NOT pythonhosted.org itself, as in curl's and Squid's ".domain"
//   api.example.com:8443   a name and one port
//   203.0.113.0/24:5432    addresses (a CIDR range or one address) and a port
//   2001:db8::/32          IPv6, ports 80 and 443; with a port in brackets: [2001:db8::/32]:443
//
// Names are matched without regard to case and without a trailing dot. man/agentjail-policy.5.scd
// and docs/network.md describe the same for users.
//
// Depends on nothing but base/ and address.h, so the policy layer can validate entries with it.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "egress/address.h"

namespace aj::net {

// The ports an entry without ":PORT" allows.
inline constexpr uint16_t kDefaultPorts[] = {80, 443};

struct Rule {
  enum class Kind { name, suffix, cidr };
  Kind kind = Kind::name;
  std::string name;             // name: the name; suffix: what follows "*." (lower case)
  Cidr cidr;                    // cidr only
  std::vector<uint16_t> ports;  // sorted; kDefaultPorts when the entry names none
  std::string text;             // the entry as written, for messages

  bool matches_name(std::string_view normalized_name) const;
  bool matches_port(uint16_t port) const;
};

// Parses one entry; the error is one line without the entry's location ("port 0 is not in
// 1-65535"), for the policy layer to place.
Result<Rule> parse_rule(std::string_view text);
// The same check, as the policy layer's validator wants it: nullopt when the entry is valid.
std::optional<std::string> check_rule(std::string_view text);

// A name as received (DNS question, SNI, Host header) in the form rules compare: lower case,
// one trailing dot removed. nullopt when it is not a syntactically valid host name (then no
// rule can match it).
std::optional<std::string> normalize_name(std::string_view name);

class RuleSet {
 public:
  RuleSet() = default;
  explicit RuleSet(std::vector<Rule> rules) : rules_(std::move(rules)) {}
  static Result<RuleSet> parse(const std::vector<std::string>& entries);

  // Some name or suffix rule matches `name` (normalized), whatever its port: DNS answers it.
  bool allows_name(std::string_view name) const;
  bool allows(std::string_view name, uint16_t port) const;
  // Some CIDR rule contains `address` and allows `port`.
  bool allows(const Address& address, uint16_t port) const;
  // Some CIDR rule contains `address` on any port (a private address it makes reachable).
  bool cidr_contains(const Address& address) const;
  // Every port some rule allows: the TCP ports the jail needs listeners on.
  std::set<uint16_t> ports() const;
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  std::vector<Rule> rules_;
};

}  // namespace aj::net
