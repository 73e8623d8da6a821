// Host-side name resolution for the broker, without blocking its poll loop: c-ares (Debian's
// libc-ares) with the host's /etc/resolv.conf and /etc/hosts, or servers the caller names.
// Why c-ares: getaddrinfo blocks (a thread per lookup would break the supervisor's
// single-threaded design) and in a static binary it needs the NSS modules at run time; a
// resolver of our own would be one more parser of network bytes to fuzz, where c-ares has had
// that scrutiny for twenty years.
//
// Answers are cached per run (kCacheMs) so that the DNS answer to the jail and the connection
// after it cost one lookup.
#pragma once

#include <ares.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "egress/address.h"

namespace aj::net {

struct Resolved {
  enum class Status { ok, not_found, failed };
  Status status = Status::failed;
  std::vector<Address> addresses;  // ok: in the resolver's order, IPv4 and IPv6
  std::string error;               // failed / not_found: c-ares' text
};

class Resolver {
 public:
  static constexpr double kCacheMs = 30'000;
  static constexpr size_t kMaxCached = 4096;

  // Told when c-ares wants a socket watched: (fd, readable, writable); both false: forget it.
  using WatchSocket = std::function<void(int fd, bool readable, bool writable)>;
  using Done = std::function<void(const Resolved&)>;

  // `servers`: "address" or "address:port" / "[v6]:port"; empty for the host's resolv.conf.
  static Result<std::unique_ptr<Resolver>> create(const std::vector<std::string>& servers, int timeout_ms,
                                                  WatchSocket watch);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Resolves `name` (already normalized) and calls `done` exactly once — never from inside
  // lookup() itself (a cached answer is delivered by the next run_completions()).
  void lookup(const std::string& name, double now_ms, Done done);
  // A socket c-ares asked to watch is ready.
  void on_socket(int fd, bool readable, bool writable);
  // Lets c-ares handle its timeouts; call when next_timeout_ms() has passed.
  void on_timeout();
  // Milliseconds until c-ares needs on_timeout(), or -1 when nothing is pending.
  int next_timeout_ms() const;
  // Delivers finished lookups to their callbacks. Call after each of the calls above.
  void run_completions(double now_ms);
  bool has_completions() const { return !finished_.empty() || !ready_.empty(); }

 private:
  Resolver() = default;
  struct Pending {
    std::vector<Done> waiters;
  };
  struct Cached {
    Resolved result;
    double expires_ms = 0;
  };
  static void on_addrinfo(void* arg, int status, int timeouts, ares_addrinfo* result);
  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable);

  ares_channel channel_ = nullptr;
  WatchSocket watch_;
  std::map<std::string, Pending> pending_;
  std::map<std::string, Cached> cache_;
  std::vector<std::pair<std::string, Resolved>> finished_;  // filled by c-ares' callbacks
  std::vector<std::pair<Done, Resolved>> ready_;             // cached answers for waiters
};

}  // namespace aj::net
