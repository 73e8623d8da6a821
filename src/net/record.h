// What the network broker did, for the report's "network" block (agentjail-report(5)):
// every relayed connection and every refusal, repeats folded, both lists capped with totals.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace aj::net {

enum class What { dns, tcp, tls, http, udp, resolve };
enum class Reason { not_allowed, ip_literal, sni_mismatch, host_mismatch, private_address, port_not_allowed,
                    byte_cap, connection_cap };
enum class Via { transparent, proxy };
const char* to_string(What what);
const char* to_string(Reason reason);
const char* to_string(Via via);

struct Denial {
  double t_ms = 0;  // since the run started, when it first happened
  What what = What::tcp;
  std::optional<std::string> name;
  std::optional<std::string> address;
  std::optional<uint16_t> port;
  Reason reason = Reason::not_allowed;
  uint64_t count = 1;  // refusals folded into this entry
  std::string detail;  // the first refusal's particulars, for the stderr line (not in the JSON)
};

struct Connection {
  double t_ms = 0;                  // since the run started, when the jail connected
  std::optional<std::string> host;  // the allowed name; nullopt for an address allowed by a CIDR entry
  uint16_t port = 0;
  std::string address;              // the address agentjail connected to
  Via via = Via::transparent;
  uint64_t bytes_out = 0, bytes_in = 0;
  double ms = 0;                    // from the jail's connect to the close
};

struct Summary {
  std::vector<Connection> connections;
  std::vector<Denial> denied;
  uint64_t connections_total = 0;
  uint64_t denied_total = 0;  // refusals, not entries
};

// The "network" object of the report, field for field.
nlohmann::json to_json(const Summary& summary);
// One line for stderr (without the "agentjail: " prefix): what was refused and why.
std::string describe(const Denial& denial);

class Recorder {
 public:
  static constexpr size_t kMaxConnections = 256;  // listed; the rest only counted
  static constexpr size_t kMaxDenied = 64;        // distinct entries listed

  // Called once per distinct refusal, when it first happens (pass-through mode prints it).
  using OnFirstDenial = std::function<void(const Denial&)>;
  explicit Recorder(OnFirstDenial on_first = {}) : on_first_(std::move(on_first)) {}

  void deny(Denial denial);
  // A relayed connection; returns a handle for finish_connection (or SIZE_MAX when not listed).
  size_t start_connection(Connection connection);
  void finish_connection(size_t handle, uint64_t bytes_out, uint64_t bytes_in, double ms);
  const Summary& summary() const { return summary_; }

 private:
  using Key = std::tuple<What, std::optional<std::string>, std::optional<std::string>, std::optional<uint16_t>, Reason>;
  Summary summary_;
  std::map<Key, size_t> index_;  // key -> denied entry
  std::map<Key, bool> seen_unlisted_;  // distinct refusals past kMaxDenied, so each still gets its line once
  OnFirstDenial on_first_;
};

}  // namespace aj::net
