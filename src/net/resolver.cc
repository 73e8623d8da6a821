#include "net/resolver.h"

#include <sys/time.h>

namespace aj::net {

namespace {

struct Request {
  Resolver* resolver;
  std::string name;
};

}  // namespace

Result<std::unique_ptr<Resolver>> Resolver::create(const std::vector<std::string>& servers, int timeout_ms,
                                                    WatchSocket watch) {
  static const int library = ares_library_init(ARES_LIB_INIT_ALL);
  if (library != ARES_SUCCESS) return fail(0, std::string("c-ares: ") + ares_strerror(library));
  std::unique_ptr<Resolver> resolver(new Resolver());
  resolver->watch_ = std::move(watch);
  ares_options options{};
  options.sock_state_cb = on_sock_state;
  options.sock_state_cb_data = resolver.get();
  // c-ares' timeout is per try and server; two tries over each server fit the caller's bound.
  options.timeout = std::max(timeout_ms / 2, 100);
  options.tries = 2;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  if (int status = ares_init_options(&resolver->channel_, &options, mask); status != ARES_SUCCESS)
    return fail(0, std::string("c-ares: ") + ares_strerror(status));
  if (!servers.empty()) {
    std::string csv;
    for (const std::string& server : servers) csv += (csv.empty() ? "" : ",") + server;
    if (int status = ares_set_servers_ports_csv(resolver->channel_, csv.c_str()); status != ARES_SUCCESS)
      return fail(EINVAL, "resolver servers " + csv + ": " + ares_strerror(status));
  }
  return resolver;
}

Resolver::~Resolver() {
  // ares_destroy calls every pending callback with ARES_EDESTRUCTION; on_addrinfo only queues.
  if (channel_) ares_destroy(channel_);
}

void Resolver::on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<Resolver*>(data);
  if (self->watch_) self->watch_(fd, readable != 0, writable != 0);
}

void Resolver::on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  std::unique_ptr<Request> request(static_cast<Request*>(arg));
  Resolved resolved;
  if (status == ARES_SUCCESS && result) {
    resolved.status = Resolved::Status::ok;
    for (ares_addrinfo_node* node = result->nodes; node; node = node->ai_next) {
      auto address = Address::from_sockaddr(node->ai_addr, node->ai_addrlen);
      if (!address) continue;
      bool seen = false;
      for (const Address& a : resolved.addresses) seen = seen || a == *address;
      if (!seen) resolved.addresses.push_back(*address);
    }
    if (resolved.addresses.empty()) {
      resolved.status = Resolved::Status::not_found;
      resolved.error = "no addresses";
    }
  } else {
    resolved.status = status == ARES_ENOTFOUND || status == ARES_ENODATA ? Resolved::Status::not_found
                                                                         : Resolved::Status::failed;
    resolved.error = ares_strerror(status);
  }
  if (result) ares_freeaddrinfo(result);
  if (status == ARES_EDESTRUCTION) return;  // the Resolver is going away
  request->resolver->finished_.emplace_back(request->name, std::move(resolved));
}

void Resolver::lookup(const std::string& name, double now_ms, Done done) {
  if (auto it = cache_.find(name); it != cache_.end()) {
    if (it->second.expires_ms > now_ms) {
      ready_.emplace_back(std::move(done), it->second.result);
      return;
    }
    cache_.erase(it);
  }
  auto [it, fresh] = pending_.try_emplace(name);
  it->second.waiters.push_back(std::move(done));
  if (!fresh) return;  // one lookup serves every waiter
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  // No sorting: c-ares would connect() a UDP socket to each address to rank them; the broker
  // tries them in order anyway.
  hints.ai_flags = ARES_AI_NOSORT;
  ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, on_addrinfo, new Request{this, name});
}

void Resolver::on_socket(int fd, bool readable, bool writable) {
  ares_process_fd(channel_, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
}

void Resolver::on_timeout() { ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD); }

int Resolver::next_timeout_ms() const {
  if (!ready_.empty() || !finished_.empty()) return 0;
  if (pending_.empty()) return -1;
  timeval max{60, 0}, tv{};
  timeval* next = ares_timeout(channel_, &max, &tv);
  return int(next->tv_sec * 1000 + (next->tv_usec + 999) / 1000);
}

void Resolver::run_completions(double now_ms) {
  // Callbacks may start new lookups (and so append to these vectors): take them first.
  auto ready = std::move(ready_);
  ready_.clear();
  for (auto& [done, result] : ready) done(result);
  auto finished = std::move(finished_);
  finished_.clear();
  for (auto& [name, result] : finished) {
    auto it = pending_.find(name);
    if (it == pending_.end()) continue;
    std::vector<Done> waiters = std::move(it->second.waiters);
    pending_.erase(it);
    if (result.status != Resolved::Status::failed) {
      if (cache_.size() >= kMaxCached) cache_.erase(cache_.begin());
      cache_[name] = Cached{result, now_ms + kCacheMs};
    }
    for (Done& done : waiters) done(result);
  }
}

}  // namespace aj::net
