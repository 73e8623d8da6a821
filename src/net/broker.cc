// The broker's event loop: one epoll set with the listeners, every connection's two sockets,
// c-ares' sockets and a timerfd armed for the nearest deadline.
#include "net/broker.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>

#include <cmath>

#include "base/strings.h"
#include "net/broker_impl.h"
#include "sys/process.h"

namespace aj::net {

double Broker::Impl::now() const { return sys::monotonic_ms(); }

void Broker::Impl::log(const std::string& line) const {
  if (hooks.on_log) hooks.on_log(line);
}

void Broker::Impl::deny(What what, std::optional<std::string> name, std::optional<Address> address,
                        std::optional<uint16_t> port, Reason reason, std::string detail) {
  Denial d;
  d.t_ms = since_start(now());
  d.what = what;
  d.name = std::move(name);
  if (address) d.address = address->to_string();
  d.port = port;
  d.reason = reason;
  // The particulars quote bytes from the jail (a Host header, a request target): one stderr
  // line must stay one readable line, whatever the jail sent.
  if (detail.size() > kMaxDetail) detail = detail.substr(0, kMaxDetail) + "...";
  d.detail = std::move(detail);
  log(describe(d));
  recorder.deny(std::move(d));
}

void Broker::Impl::watch(int fd, uint64_t tag, uint64_t id, uint32_t events, bool add) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id << 3 | tag;
  // Cannot fail for a valid fd that is (or is not yet) in the set, short of ENOMEM; then the
  // connection stalls until its deadline resets it.
  if (epoll_ctl(epoll.get(), add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) != 0)
    log("network: epoll_ctl: " + errno_text(errno));
}

void Broker::Impl::unwatch(int fd) { epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr); }

void Broker::Impl::rearm_timer() {
  double next = kNever;
  for (auto& [id, s] : streams) next = std::min(next, s->deadline_ms);
  double t = now();
  if (int resolver_ms = resolver ? resolver->next_timeout_ms() : -1; resolver_ms >= 0) next = std::min(next, t + resolver_ms);
  itimerspec spec{};
  if (next != kNever) {
    // Absolute, on the clock monotonic_ms reads; at least 1 ms ahead so it cannot be "0 = off".
    double at = std::max(next, t + 1);
    spec.it_value.tv_sec = time_t(at / 1000);
    spec.it_value.tv_nsec = long(std::fmod(at, 1000.0) * 1e6);
  }
  timerfd_settime(timer.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

void Broker::Impl::run_resolver() {
  while (resolver->has_completions()) resolver->run_completions(now());
}

void Broker::Impl::on_timer() {
  uint64_t expirations;
  (void)!::read(timer.get(), &expirations, sizeof expirations);
  resolver->on_timeout();
  run_resolver();
  double t = now();
  std::vector<uint64_t> due;
  for (auto& [id, s] : streams)
    if (s->deadline_ms <= t) due.push_back(id);
  for (uint64_t id : due)
    if (auto it = streams.find(id); it != streams.end()) on_stream_deadline(*it->second);
}

Broker::Broker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Broker::~Broker() {
  finish();
  // c-ares tells its socket callback about closing sockets while it is destroyed; that callback
  // uses the maps below, so the resolver goes first.
  impl_->resolver.reset();
}

Result<std::unique_ptr<Broker>> Broker::create(Config config, double started_ms, Hooks hooks) {
  auto impl = std::make_unique<Impl>();
  auto rules = RuleSet::parse(config.allow);
  if (!rules) return std::unexpected(rules.error());
  impl->rules = std::move(*rules);
  for (const auto& [name, address_text] : config.resolve) {
    auto normal = normalize_name(name);
    if (!normal) return fail(EINVAL, "network.resolve: " + aj::quoted(name) + " is not a host name");
    auto address = Address::parse(address_text);
    if (!address) return fail(EINVAL, "network.resolve " + aj::quoted(name) + ": " + aj::quoted(address_text) + " is not an IP address");
    impl->pinned[*normal] = *address;
  }
  impl->started_ms = started_ms;
  impl->hooks = hooks;
  impl->recorder = Recorder(hooks.on_first_denial);

  impl->epoll = sys::UniqueFd(epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll) return fail_errno("epoll_create1");
  impl->timer = sys::UniqueFd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!impl->timer) return fail_errno("timerfd_create");
  impl->watch(impl->timer.get(), kTimerTag, 0, EPOLLIN, true);

  // A relayed connection holds six descriptors (two sockets, two pipes); leave room for the
  // supervisor's own.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
    impl->max_open = std::clamp<size_t>((size_t(nofile.rlim_cur) - std::min<size_t>(nofile.rlim_cur, 64)) / 6, 4, 256);

  Impl* raw = impl.get();
  auto resolver = Resolver::create(config.upstream_servers, config.resolve_ms, [raw](int fd, bool readable, bool writable) {
    uint32_t events = (readable ? uint32_t(EPOLLIN) : 0u) | (writable ? uint32_t(EPOLLOUT) : 0u);
    auto it = raw->resolver_fds.find(fd);
    if (!readable && !writable) {
      if (it != raw->resolver_fds.end()) {
        raw->unwatch(fd);
        raw->resolver_fds.erase(it);
      }
      return;
    }
    raw->watch(fd, kResolverTag, uint64_t(fd), events, it == raw->resolver_fds.end());
    raw->resolver_fds[fd] = events;
  });
  if (!resolver) return std::unexpected(resolver.error());
  impl->resolver = std::move(*resolver);
  impl->config = std::move(config);
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

Status Broker::add_listener(sys::UniqueFd fd) {
  int type = 0, family = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0) return fail_errno("network listener: SO_TYPE");
  len = sizeof family;
  if (getsockopt(fd.get(), SOL_SOCKET, SO_DOMAIN, &family, &len) != 0) return fail_errno("network listener: SO_DOMAIN");
  if (type != SOCK_STREAM && type != SOCK_DGRAM) return fail(EINVAL, "network listener: neither TCP nor UDP");
  if (family != AF_INET && family != AF_INET6) return fail(EINVAL, "network listener: neither IPv4 nor IPv6");
  int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) return fail_errno("network listener: O_NONBLOCK");
  size_t index = impl_->listeners.size();
  impl_->watch(fd.get(), kListenerTag, index, EPOLLIN, true);
  impl_->listeners.push_back(Impl::Listener{std::move(fd), type == SOCK_DGRAM, family});
  return {};
}

void Broker::set_jail_ipv6(bool ipv6) { impl_->config.ipv6 = ipv6; }

int Broker::fd() const { return impl_->epoll.get(); }

void Broker::on_ready() {
  Impl& b = *impl_;
  if (b.finished) return;
  epoll_event events[64];
  int n = epoll_wait(b.epoll.get(), events, 64, 0);
  for (int i = 0; i < n; ++i) {
    uint64_t tag = events[i].data.u64 & 7, id = events[i].data.u64 >> 3;
    uint32_t what = events[i].events;
    switch (tag) {
      case kListenerTag:
        if (id < b.listeners.size()) {
          if (b.listeners[id].datagram)
            b.on_udp(b.listeners[id]);
          else
            b.accept_all(id);
        }
        break;
      case kClientTag:
      case kUpstreamTag: b.on_stream_event(id, tag == kUpstreamTag, what); break;
      case kTimerTag: b.on_timer(); break;
      case kResolverTag:
        if (b.resolver_fds.count(int(id)))
          b.resolver->on_socket(int(id), what & (EPOLLIN | EPOLLERR | EPOLLHUP), what & EPOLLOUT);
        break;
    }
    b.run_resolver();
  }
  b.rearm_timer();
}

void Broker::finish() {
  Impl& b = *impl_;
  if (b.finished) return;
  while (!b.streams.empty()) b.close_stream(*b.streams.begin()->second, false);
  for (auto& l : b.listeners) b.unwatch(l.fd.get());
  b.listeners.clear();
  b.finished = true;
}

const Summary& Broker::summary() const { return impl_->recorder.summary(); }

size_t Broker::open_streams() const { return impl_->streams.size(); }

}  // namespace aj::net
