// network.* of a policy: the modes, and the checks of the allowlist keys shared by the TOML
// decoder, the validator and `agentjail run --net/--allow` (docs/network.md).
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "policy/checks.h"
#include "policy/model.h"

namespace aj::policy {

// "none", "loopback", "host", "allowlist": network.mode's values, in NetworkMode's order.
std::span<const std::string> network_mode_names();
// One network.allow entry ("pypi.org", "*.pythonhosted.org:443", "203.0.113.0/24:5432").
Problem check_allow_entry(std::string_view entry);
// A network.resolve entry: the name must be a host name some allow entry allows, the value an
// IPv4 or IPv6 address literal.
Problem check_resolve_entry(std::string_view name, std::string_view address, const std::vector<std::string>& allow);
// Every problem of `network` as a whole: the allowlist keys outside mode "allowlist", the
// entries, the caps. Each as (key, problem).
std::vector<std::pair<std::string, std::string>> network_problems(const Network& network);
// Back to the defaults of the allowlist keys (a mode other than "allowlist" chosen on the
// command line over a policy's allowlist).
void clear_allowlist(Network& network);

}  // namespace aj::policy
