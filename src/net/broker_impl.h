// The broker's insides, shared by broker.cc (event loop), stream.cc (TCP connections) and
// dns_server.cc (the jail's DNS). Not for other modules.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "egress/address.h"
#include "net/broker.h"
#include "net/fake_names.h"
#include "net/resolver.h"
#include "egress/rules.h"

namespace aj::net {

inline constexpr double kNever = std::numeric_limits<double>::infinity();
inline constexpr uint16_t kDnsPort = 53;
inline constexpr uint16_t kProxyPort = 3128;
inline constexpr uint32_t kDnsTtl = 60;
inline constexpr size_t kPipeBytes = 64 * 1024;      // at most, per direction (the kernel's default pipe)
inline constexpr size_t kMaxUdpPending = 256;         // DNS answers waiting for the host resolver
inline constexpr size_t kMaxDnsPerStream = 64;        // DNS-over-TCP queries on one connection
inline constexpr double kDnsIdleMs = 10'000;
inline constexpr double kCloseMs = 2'000;             // to deliver a 403 before the close
inline constexpr size_t kMaxDetail = 300;             // bytes of a refusal's particulars

// What an epoll event is for: the low 3 bits of its u64; the rest is an id.
enum Tag : uint64_t { kListenerTag = 0, kClientTag = 1, kUpstreamTag = 2, kTimerTag = 3, kResolverTag = 4 };

struct Stream {
  enum class Kind { transparent, proxy, dns };
  enum class State {
    proxy_head,   // proxy: reading the request head
    inspecting,   // reading the first bytes: TLS ClientHello or HTTP head
    resolving,    // waiting for the host resolver
    connecting,   // upstream connect in progress
    relaying,     // both ways
    closing,      // delivering to_client, then close
    dns,          // DNS over TCP
    dns_waiting,  // DNS over TCP, an answer waits for the host resolver
  };
  uint64_t id = 0;
  Kind kind = Kind::transparent;
  State state = State::inspecting;
  Via via = Via::transparent;
  sys::UniqueFd client, upstream;
  uint32_t client_events = 0, upstream_events = 0;  // what epoll watches now
  bool upstream_registered = false;

  Address destination;  // where the jail connected (a fake address for names)
  uint16_t port = 0;    // the port it connected to, or the proxy request's
  std::string name;     // the allowed name this connection is for; "" for a CIDR-allowed address
  bool proxy_connect = false;  // a CONNECT tunnel: "200" is sent before the tunnel is inspected
  bool sent_200 = false;
  bool in_dns_loop = false;

  std::vector<uint8_t> in;     // client bytes read before the relay; sent upstream first
  size_t in_sent = 0;
  std::string to_client;       // bytes for the client before the relay (proxy answers)
  size_t to_client_sent = 0;

  std::vector<Address> candidates;  // checked addresses to try, in order
  size_t next_candidate = 0;
  Address connected;

  double accepted_ms = 0;
  double deadline_ms = kNever;
  bool any_client_byte = false;

  // Relay: one pipe per direction.
  sys::UniqueFd up_read, up_write, down_read, down_write;
  size_t up_fill = 0, down_fill = 0;
  size_t pipe_bytes = kPipeBytes;  // the smaller pipe's capacity (F_GETPIPE_SZ)
  // A splice into the pipe would block although it holds less than pipe_bytes: its slots are
  // used up (one per socket buffer fragment, however small). The socket that feeds it is not
  // watched until the other side has drained some, or a readable socket would spin the loop.
  bool up_full = false, down_full = false;
  bool client_eof = false, upstream_eof = false, upstream_shut = false, client_shut = false;
  bool upstream_dead = false;  // hung up: no longer watched
  uint64_t bytes_out = 0, bytes_in = 0;
  size_t record = SIZE_MAX;
  bool counted = false;  // holds one of network.max_connections

  // DNS over TCP
  size_t dns_queries = 0;
};

struct Broker::Impl {
  Config config;
  RuleSet rules;
  std::map<std::string, Address> pinned;  // network.resolve, names normalized
  FakeNames fakes;
  Recorder recorder;
  Hooks hooks;
  double started_ms = 0;

  sys::UniqueFd epoll, timer;
  std::unique_ptr<Resolver> resolver;
  std::map<int, uint32_t> resolver_fds;  // c-ares sockets and what epoll watches on each

  struct Listener {
    sys::UniqueFd fd;
    bool datagram = false;
    int family = AF_INET6;
  };
  std::vector<Listener> listeners;
  std::map<uint64_t, std::unique_ptr<Stream>> streams;
  uint64_t next_id = 1;
  size_t max_open = 256;  // streams at once, from the fd limit
  size_t udp_pending = 0;
  uint64_t connections_started = 0;
  uint64_t bytes_out_total = 0;
  bool finished = false;

  // broker.cc
  double now() const;
  double since_start(double t) const { return t - started_ms; }
  void log(const std::string& line) const;
  void deny(What what, std::optional<std::string> name, std::optional<Address> address,
            std::optional<uint16_t> port, Reason reason, std::string detail);
  void watch(int fd, uint64_t tag, uint64_t id, uint32_t events, bool add);
  void unwatch(int fd);
  void rearm_timer();
  void on_timer();
  void run_resolver();

  // stream.cc
  void accept_all(size_t listener);
  void on_stream_event(uint64_t id, bool upstream_side, uint32_t events);
  void on_stream_deadline(Stream& s);
  void close_stream(Stream& s, bool reset);
  void update_interest(Stream& s);

  void start_transparent(Stream& s);
  void read_first_bytes(Stream& s);
  void decide_first_bytes(Stream& s, bool timed_out);
  void first_bytes_ok(Stream& s);
  void after_resolve(Stream& s);
  void read_proxy_head(Stream& s);
  void begin_resolve(Stream& s);
  void on_resolved(uint64_t id, const Resolved& result);
  void begin_connect(Stream& s);
  void try_next_candidate(Stream& s);
  void on_connect_done(Stream& s);
  void start_relay(Stream& s);
  void on_relay_event(Stream& s, bool upstream_side, uint32_t events);
  void pump(Stream& s);
  enum class Flush { done, pending, failed };
  Flush flush_to_client(Stream& s);
  void refuse(Stream& s, What what, Reason reason, std::string detail,
              std::optional<Address> address = std::nullopt);
  void proxy_error(Stream& s, int status, std::string line);

  // dns_server.cc
  // Called exactly once per query, at once or when the host resolver answers; empty: no reply.
  using Reply = std::function<void(std::vector<uint8_t>)>;
  void answer_query(std::span<const uint8_t> message, Reply reply);
  void on_udp(Listener& listener);
  void read_dns_stream(Stream& s);
  void process_dns_frames(Stream& s);
};

}  // namespace aj::net
