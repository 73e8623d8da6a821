#include "net/record.h"

namespace aj::net {

const char* to_string(What what) {
  switch (what) {
    case What::dns: return "dns";
    case What::tcp: return "tcp";
    case What::tls: return "tls";
    case What::http: return "http";
    case What::udp: return "udp";
    case What::resolve: return "resolve";
  }
  return "?";
}

const char* to_string(Reason reason) {
  switch (reason) {
    case Reason::not_allowed: return "not_allowed";
    case Reason::ip_literal: return "ip_literal";
    case Reason::sni_mismatch: return "sni_mismatch";
    case Reason::host_mismatch: return "host_mismatch";
    case Reason::private_address: return "private_address";
    case Reason::port_not_allowed: return "port_not_allowed";
    case Reason::byte_cap: return "byte_cap";
    case Reason::connection_cap: return "connection_cap";
  }
  return "?";
}

const char* to_string(Via via) { return via == Via::proxy ? "proxy" : "transparent"; }

namespace {

template <class T>
nlohmann::json or_null(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

// Milliseconds to a tenth, as the rest of the report prints them.
double tenth(double ms) { return double(int64_t(ms * 10 + 0.5)) / 10; }

}  // namespace

nlohmann::json to_json(const Summary& s) {
  nlohmann::json connections = nlohmann::json::array();
  for (const Connection& c : s.connections)
    connections.push_back({{"t_ms", tenth(c.t_ms)}, {"host", or_null(c.host)}, {"port", c.port},
                           {"address", c.address}, {"via", to_string(c.via)}, {"bytes_out", c.bytes_out},
                           {"bytes_in", c.bytes_in}, {"ms", tenth(c.ms)}});
  nlohmann::json denied = nlohmann::json::array();
  for (const Denial& d : s.denied)
    denied.push_back({{"t_ms", tenth(d.t_ms)}, {"what", to_string(d.what)}, {"name", or_null(d.name)},
                      {"address", or_null(d.address)}, {"port", or_null(d.port)}, {"reason", to_string(d.reason)},
                      {"count", d.count}});
  return {{"mode", "allowlist"}, {"connections", std::move(connections)}, {"denied", std::move(denied)},
          {"connections_total", s.connections_total}, {"denied_total", s.denied_total}};
}

std::string describe(const Denial& d) {
  std::string target;
  if (d.name) target = *d.name;
  if (d.address) target += target.empty() ? *d.address : " (" + *d.address + ")";
  if (d.port) target += ":" + std::to_string(*d.port);
  if (target.empty()) target = "?";
  std::string why;
  switch (d.reason) {
    case Reason::not_allowed: why = "not in network.allow"; break;
    case Reason::ip_literal: why = "an IP address that no CIDR entry of network.allow covers (connect by name)"; break;
    case Reason::sni_mismatch: why = "its TLS server name is not the name it was opened for"; break;
    case Reason::host_mismatch: why = "its HTTP Host is not the name it was opened for"; break;
    case Reason::private_address:
      why = "the name resolves to an address that is not public (a CIDR entry in network.allow or a "
            "network.resolve entry would allow it)";
      break;
    case Reason::port_not_allowed: why = "the port is not allowed for it in network.allow"; break;
    case Reason::byte_cap: why = "network.max_bytes reached"; break;
    case Reason::connection_cap: why = "network.max_connections reached"; break;
  }
  const char* kind = "";
  switch (d.what) {
    case What::dns: kind = "DNS query for "; break;
    case What::tcp: kind = "connection to "; break;
    case What::tls: kind = "TLS connection to "; break;
    case What::http: kind = "HTTP request to "; break;
    case What::udp: kind = "UDP to "; break;
    case What::resolve: kind = "connection to "; break;
  }
  std::string line = "network: refused " + std::string(kind) + target + ": " + why;
  if (!d.detail.empty()) line += " (" + d.detail + ")";
  return line;
}

void Recorder::deny(Denial denial) {
  ++summary_.denied_total;
  Key key{denial.what, denial.name, denial.address, denial.port, denial.reason};
  if (auto it = index_.find(key); it != index_.end()) {
    ++summary_.denied[it->second].count;
    return;
  }
  if (summary_.denied.size() >= kMaxDenied) {
    // Counted in denied_total; still said once on stderr, but no longer listed. A cap on the
    // memory this map holds too: a loop over fresh names must not grow it without bound.
    if (seen_unlisted_.size() < 4 * kMaxDenied && seen_unlisted_.emplace(key, true).second && on_first_)
      on_first_(denial);
    return;
  }
  index_.emplace(std::move(key), summary_.denied.size());
  summary_.denied.push_back(std::move(denial));
  if (on_first_) on_first_(summary_.denied.back());
}

size_t Recorder::start_connection(Connection connection) {
  ++summary_.connections_total;
  if (summary_.connections.size() >= kMaxConnections) return SIZE_MAX;
  summary_.connections.push_back(std::move(connection));
  return summary_.connections.size() - 1;
}

void Recorder::finish_connection(size_t handle, uint64_t bytes_out, uint64_t bytes_in, double ms) {
  if (handle >= summary_.connections.size()) return;
  Connection& c = summary_.connections[handle];
  c.bytes_out = bytes_out;
  c.bytes_in = bytes_in;
  c.ms = ms;
}

}  // namespace aj::net
