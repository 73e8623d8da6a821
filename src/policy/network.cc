#include "policy/network.h"

#include <fmt/format.h>

#include "base/strings.h"
#include "egress/address.h"
#include "egress/rules.h"
#include "policy/decode.h"
#include "policy/units.h"

namespace aj::policy {

std::span<const std::string> network_mode_names() {
  static const std::string names[] = {"none", "loopback", "host", "allowlist"};
  return names;
}

Problem check_allow_entry(std::string_view entry) { return net::check_rule(entry); }

Problem check_resolve_entry(std::string_view name, std::string_view address, const std::vector<std::string>& allow) {
  auto normalized = net::normalize_name(name);
  if (!normalized) return fmt::format("{} is not a host name", aj::quoted(name));
  if (!net::Address::parse(address)) return fmt::format("{} is not an IPv4 or IPv6 address", aj::quoted(address));
  auto rules = net::RuleSet::parse(allow);
  // A broken allow entry is reported at that entry; this one is judged once they are fixed.
  if (rules && !rules->allows_name(*normalized))
    return fmt::format("{} is not allowed by any network.allow entry (a resolve entry only pins the address of an "
                       "allowed name)",
                       aj::quoted(name));
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> network_problems(const Network& network) {
  std::vector<std::pair<std::string, std::string>> out;
  if (network.mode != NetworkMode::allowlist) {
    const char* why = "applies only with network.mode = \"allowlist\"";
    if (!network.allow.empty()) out.emplace_back("network.allow", why);
    if (!network.resolve.empty()) out.emplace_back("network.resolve", why);
    return out;
  }
  for (const auto& entry : network.allow)
    if (auto problem = check_allow_entry(entry)) out.emplace_back("network.allow", *problem);
  for (const auto& [name, address] : network.resolve)
    if (auto problem = check_resolve_entry(name, address, network.allow)) out.emplace_back("network.resolve", *problem);
  if (network.max_connections && *network.max_connections == 0)
    out.emplace_back("network.max_connections", "must not be 0 (\"unlimited\" means no limit)");
  if (network.max_bytes && *network.max_bytes == 0)
    out.emplace_back("network.max_bytes", "must not be 0 (\"unlimited\" means no limit)");
  return out;
}

void clear_allowlist(Network& network) {
  Network defaults;
  network.allow = defaults.allow;
  network.resolve = defaults.resolve;
  network.max_connections = defaults.max_connections;
  network.max_bytes = defaults.max_bytes;
}

namespace detail {
namespace {

bool unlimited(const toml::node& node) {
  const auto* text = node.as_string();
  return text && lower(text->get()) == "unlimited";
}

// An integer of at least 1, or "unlimited".
void read_cap(TableReader& reader, std::string_view key, std::optional<uint64_t>& out, bool size) {
  const toml::node* node = reader.get(key);
  if (!node) return;
  if (unlimited(*node)) {
    out.reset();
    return;
  }
  std::optional<uint64_t> value;
  if (const auto* number = node->as_integer()) {
    if (number->get() >= 1) value = static_cast<uint64_t>(number->get());
  } else if (const auto* text = node->as_string(); text && size) {
    auto parsed = parse_size(text->get());
    if (!parsed) return reader.error(*node, key, parsed.error().message);
    value = *parsed;
  }
  if (!value || *value == 0)
    return reader.error(*node, key,
                        size ? "expected a size such as \"1GiB\" (at least 1 byte) or \"unlimited\""
                             : "expected an integer of at least 1 or \"unlimited\"");
  out = value;
}

}  // namespace

void decode_network(TableReader& reader, Network& network) {
  if (auto mode = read_choice(reader, "mode", network_mode_names()))
    network.mode = std::array{NetworkMode::none, NetworkMode::loopback, NetworkMode::host, NetworkMode::allowlist}[*mode];
  read_strings(reader, "allow", network.allow, check_allow_entry);
  if (const toml::node* node = reader.get("resolve")) {
    if (const auto* table = node->as_table()) {
      for (const auto& [name, value] : *table) {
        const auto* text = value.as_string();
        if (!text) {
          reader.error(value, "resolve", fmt::format("{}: expected an address string, got {}", aj::quoted(name.str()),
                                                     type_phrase(value)));
          continue;
        }
        if (auto problem = check_resolve_entry(name.str(), text->get(), network.allow)) {
          reader.error(value, "resolve", *problem);
          continue;
        }
        network.resolve[*net::normalize_name(name.str())] = text->get();
      }
    } else {
      reader.error(*node, "resolve",
                   fmt::format("expected a table of name = \"address\", got {}", type_phrase(*node)));
    }
  }
  read_cap(reader, "max_connections", network.max_connections, false);
  read_cap(reader, "max_bytes", network.max_bytes, true);
  if (network.mode == NetworkMode::allowlist) return;
  for (const char* key : {"allow", "resolve", "max_connections", "max_bytes"})
    if (const toml::node* node = reader.table().get(key))
      reader.error(*node, key, fmt::format("applies only with network.mode = \"allowlist\" (the mode is \"{}\")",
                                           to_string(network.mode)));
}

}  // namespace detail
}  // namespace aj::policy
