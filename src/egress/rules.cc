#include "egress/rules.h"

#include <algorithm>

#include "base/strings.h"

namespace aj::net {

namespace {

bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Why `name` (no trailing dot, no wildcard) is not a host name, or nullopt when it is one.
std::optional<std::string> name_problem(std::string_view name) {
  if (name.empty()) return "empty name";
  if (name.size() > 253) return "name longer than 253 characters";
  bool all_digits_last = true;
  for (std::string_view rest = name; !rest.empty();) {
    size_t dot = rest.find('.');
    std::string_view label = rest.substr(0, dot);
    if (label.empty()) return "empty label in " + aj::quoted(name);
    if (label.size() > 63) return "label longer than 63 characters in " + aj::quoted(name);
    for (char c : label) {
      if (static_cast<unsigned char>(c) >= 0x80)
        return aj::quoted(name) + " is not ASCII: write an internationalised name in its xn-- form";
      if (!is_ldh(c)) return "character " + aj::quoted(std::string_view(&c, 1)) + " is not allowed in a host name";
    }
    if (label.front() == '-' || label.back() == '-') return "label " + aj::quoted(label) + " starts or ends with '-'";
    all_digits_last = std::all_of(label.begin(), label.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
    if (rest.empty()) return "empty label in " + aj::quoted(name);
  }
  // "1.2.3.999" is a mistyped address, not a name (no top-level domain is numeric).
  if (all_digits_last) return aj::quoted(name) + " is neither a host name nor an IP address";
  return std::nullopt;
}

// "443" -> 443; nullopt for anything but 1..65535 in plain decimal.
std::optional<uint16_t> parse_port(std::string_view digits) {
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + unsigned(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return uint16_t(value);
}

}  // namespace

bool Rule::matches_name(std::string_view n) const {
  switch (kind) {
    case Kind::name: return n == name;
    case Kind::suffix:
      // At least one label before the suffix: "*.x.org" matches "a.x.org", not "x.org" or "ax.org".
      return n.size() > name.size() + 1 && n.ends_with(name) && n[n.size() - name.size() - 1] == '.';
    case Kind::cidr: return false;
  }
  return false;
}

bool Rule::matches_port(uint16_t port) const { return std::binary_search(ports.begin(), ports.end(), port); }

Result<Rule> parse_rule(std::string_view text) {
  auto bad = [](std::string message) { return fail(EINVAL, std::move(message)); };
  Rule rule;
  rule.text = std::string(text);
  if (text.empty()) return bad("empty entry");
  if (trim(text) != text) return bad(aj::quoted(text) + " has spaces around it");
  if (text.find("://") != std::string_view::npos)
    return bad(aj::quoted(text) + ": write the host only (no scheme), e.g. pypi.org or pypi.org:443");

  std::string_view host = text;
  std::optional<std::string_view> port_text;
  if (text.front() == '[') {
    // [IPv6 address or range] with an optional :PORT
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad(aj::quoted(text) + ": '[' without ']'");
    host = text.substr(1, close - 1);
    std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad(aj::quoted(text) + ": expected :PORT after ']'");
      port_text = after.substr(1);
    }
    if (host.find(':') == std::string_view::npos) return bad(aj::quoted(text) + ": brackets are for IPv6 addresses only");
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    size_t colon = text.find(':');
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  // Two or more colons without brackets: an IPv6 address or range without a port.
  if (port_text) {
    auto port = parse_port(*port_text);
    if (!port) return bad("port " + aj::quoted(*port_text) + " is not a number in 1-65535");
    rule.ports = {*port};
  } else {
    rule.ports.assign(std::begin(kDefaultPorts), std::end(kDefaultPorts));
  }
  if (host.empty()) return bad(aj::quoted(text) + ": no host before the port");
  if (host.find('/') != std::string_view::npos && !Address::parse(host.substr(0, host.find('/'))))
    return bad(aj::quoted(text) + ": a path is not allowed (the allowlist decides by host and port)");

  bool looks_like_address = host.find(':') != std::string_view::npos || host.find('/') != std::string_view::npos ||
                            Address::parse(host).has_value();
  if (looks_like_address) {
    std::string error;
    auto cidr = Cidr::parse(host, &error);
    if (!cidr) return bad(error);
    rule.kind = Rule::Kind::cidr;
    rule.cidr = *cidr;
    return rule;
  }

  if (host.back() == '.') return bad(aj::quoted(text) + ": drop the trailing dot");
  if (host.starts_with("*.")) {
    std::string_view suffix = host.substr(2);
    if (suffix.find('*') != std::string_view::npos) return bad(aj::quoted(text) + ": '*' may appear only once, as the first label");
    if (auto problem = name_problem(suffix)) return bad(*problem);
    rule.kind = Rule::Kind::suffix;
    rule.name = lower(suffix);
    return rule;
  }
  if (host == "*") return bad("'*' would allow every name: use network.mode = \"host\" for that");
  if (host.find('*') != std::string_view::npos)
    return bad(aj::quoted(text) + ": '*' is allowed only as a whole first label (*.example.org)");
  if (auto problem = name_problem(host)) return bad(*problem);
  rule.kind = Rule::Kind::name;
  rule.name = lower(host);
  return rule;
}

std::optional<std::string> check_rule(std::string_view text) {
  auto rule = parse_rule(text);
  if (rule) return std::nullopt;
  return rule.error().message;
}

std::optional<std::string> normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name_problem(name)) return std::nullopt;
  return lower(name);
}

Result<RuleSet> RuleSet::parse(const std::vector<std::string>& entries) {
  std::vector<Rule> rules;
  for (const std::string& entry : entries) {
    auto rule = parse_rule(entry);
    if (!rule) return std::unexpected(std::move(rule).error().context("network.allow " + aj::quoted(entry)));
    rules.push_back(std::move(*rule));
  }
  return RuleSet(std::move(rules));
}

bool RuleSet::allows_name(std::string_view name) const {
  return std::any_of(rules_.begin(), rules_.end(), [&](const Rule& r) { return r.matches_name(name); });
}

bool RuleSet::allows(std::string_view name, uint16_t port) const {
  return std::any_of(rules_.begin(), rules_.end(),
                     [&](const Rule& r) { return r.matches_name(name) && r.matches_port(port); });
}

bool RuleSet::allows(const Address& address, uint16_t port) const {
  return std::any_of(rules_.begin(), rules_.end(), [&](const Rule& r) {
    return r.kind == Rule::Kind::cidr && r.cidr.contains(address) && r.matches_port(port);
  });
}

bool RuleSet::cidr_contains(const Address& address) const {
  return std::any_of(rules_.begin(), rules_.end(),
                     [&](const Rule& r) { return r.kind == Rule::Kind::cidr && r.cidr.contains(address); });
}

std::set<uint16_t> RuleSet::ports() const {
  std::set<uint16_t> ports;
  for (const Rule& r : rules_) ports.insert(r.ports.begin(), r.ports.end());
  return ports;
}

}  // namespace aj::net
