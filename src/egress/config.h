// What the network broker enforces, as plain data the planner fills from network.* of the
// policy (agentjail-policy(5)). Only standard types, so it can move to a vocabulary header.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aj::net {

struct Config {
  // network.allow, each entry valid for check_rule() (the broker refuses to start otherwise).
  std::vector<std::string> allow;
  // network.resolve: name -> address literal, used instead of the host's resolver. The name
  // must still be allowed; its address is then reachable even when it is private.
  std::map<std::string, std::string> resolve;
  // network.max_connections: connections relayed per run; nullopt = unlimited.
  std::optional<uint64_t> max_connections = 64;
  // network.max_bytes: bytes relayed from the jail to the outside, all connections together.
  std::optional<uint64_t> max_bytes;
  // The jail has IPv6 on lo (the ::/0 local route): allowed names get AAAA answers too.
  bool ipv6 = true;
  // The host resolvers to ask, "address" or "[address]:port" / "address:port"; empty: those of
  // the host's /etc/resolv.conf (tests point this at a server of their own).
  std::vector<std::string> upstream_servers;

  // Time limits, in milliseconds. Each ends in a refusal or a reset, never in a hang.
  int first_bytes_ms = 10'000;   // a TLS ClientHello or HTTP request head must be complete by then
  int server_first_ms = 300;     // on a port other than 80/443, silence this long means a protocol
                                 // where the server speaks first (SMTP, MySQL): relay without a look
  int connect_ms = 10'000;       // per upstream connect attempt
  int resolve_ms = 5'000;        // host resolution of one name
};

}  // namespace aj::net
