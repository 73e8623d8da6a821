// The network broker: everything the jail sends over TCP or DNS arrives at listening sockets
// that the jail's init created inside the jail's network namespace (see jail_side.h) and passed
// to the supervisor; the broker accepts there, decides by the allowlist, and relays what it
// allows over connections of its own, made from the supervisor's network namespace.
//
// Per TCP connection: accept -> original destination (getsockname: AnyIP routes deliver every
// address to the listener) -> a fake address from our DNS names the connection's host, any
// other address must be allowed by a CIDR entry -> the first bytes (TLS server name, HTTP Host)
// must name that host -> the host is resolved on the host, addresses that are not public are
// refused -> connect to exactly the address checked -> relay both ways with splice(2), counting.
// Port 53 is our DNS (UDP and TCP), 127.0.0.1:3128 an HTTP proxy (CONNECT and absolute-form).
// Refusals reset the connection (or answer NXDOMAIN / HTTP 403) at once; nothing waits.
//
// Single-threaded and non-blocking: the supervisor polls fd() for POLLIN and calls on_ready().
// docs/network.md describes the behaviour for users.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/error.h"
#include "egress/config.h"
#include "net/record.h"
#include "sys/fd.h"

namespace aj::net {

class Broker {
 public:
  struct Hooks {
    std::function<void(const Denial&)> on_first_denial;  // once per distinct refusal
    std::function<void(const std::string&)> on_log;      // diagnostics for -v
  };

  // Checks the config (every allow entry, every resolve address) and sets up the event loop.
  // `started_ms`: the run's start on the monotonic clock (sys::monotonic_ms), for t_ms.
  static Result<std::unique_ptr<Broker>> create(Config config, double started_ms, Hooks hooks = {});
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // A listening socket from the jail: TCP (SOCK_STREAM, listening, any port) or UDP port 53.
  // Made non-blocking here.
  Status add_listener(sys::UniqueFd fd);
  // Whether the jail got its IPv6 AnyIP route (AnyIp::ipv6 from its init): without it, AAAA
  // questions get no data, so that clients do not try addresses the jail cannot reach. Known
  // only once the jail is being built, after create(); call it before the first add_listener().
  void set_jail_ipv6(bool ipv6);
  // An epoll descriptor: readable whenever on_ready() has work.
  int fd() const;
  // Handles whatever is ready; never blocks.
  void on_ready();
  // Closes the listeners and every connection, finishing their records. Idempotent.
  void finish();
  const Summary& summary() const;
  // Connections and DNS-over-TCP streams open now.
  size_t open_streams() const;

  struct Impl;

 private:
  explicit Broker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aj::net
