// TCP connections from the jail: accept, decide, resolve, connect, relay. Each step either moves
// the connection on, or refuses it at once (a reset, or the proxy's 403); none blocks.
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>

#include "base/strings.h"
#include "net/broker_impl.h"
#include "net/http_head.h"
#include "net/tls.h"

namespace aj::net {

namespace {

// Close with an RST: the client's next read or write fails with ECONNRESET at once.
void set_reset_on_close(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

bool is_loopback(const Address& a) { return classify(a) == AddressClass::loopback; }

// Two spellings of one host: the same address, or the same name.
bool same_host(std::string_view a, std::string_view b) {
  auto x = Address::parse(a), y = Address::parse(b);
  if (x || y) return x && y && *x == *y;
  auto m = normalize_name(a), n = normalize_name(b);
  return m && n && *m == *n;
}

std::string target_text(const Stream& s) {
  return s.name.empty() ? to_string(s.destination, s.port) : s.name + ":" + std::to_string(s.port);
}

}  // namespace

void Broker::Impl::accept_all(size_t index) {
  for (int i = 0; i < 64; ++i) {
    int fd = accept4(listeners[index].fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == ECONNABORTED || errno == EINTR) continue;
      if (!would_block(errno)) log("network: accept: " + errno_text(errno));
      return;
    }
    sys::UniqueFd client(fd);
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    std::optional<Address> destination;
    uint16_t port = 0;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      destination = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&local), len);
      port = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    }
    if (!destination) {
      set_reset_on_close(fd);
      continue;
    }
    if (streams.size() >= max_open) {
      set_reset_on_close(fd);
      deny(What::tcp, std::nullopt, destination, port, Reason::connection_cap,
           std::to_string(max_open) + " connections open at once");
      continue;
    }
    auto owned = std::make_unique<Stream>();
    Stream& s = *owned;
    s.id = next_id++;
    s.client = std::move(client);
    s.accepted_ms = now();
    s.destination = *destination;
    s.port = port;
    streams.emplace(s.id, std::move(owned));
    s.client_events = EPOLLIN;
    watch(s.client.get(), kClientTag, s.id, s.client_events, true);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (port == kDnsPort) {
      s.kind = Stream::Kind::dns;
      s.state = Stream::State::dns;
      s.deadline_ms = s.accepted_ms + kDnsIdleMs;
    } else if (port == kProxyPort && is_loopback(s.destination)) {
      s.kind = Stream::Kind::proxy;
      s.via = Via::proxy;
      s.state = Stream::State::proxy_head;
      s.deadline_ms = s.accepted_ms + config.first_bytes_ms;
    } else {
      start_transparent(s);
    }
  }
}

void Broker::Impl::start_transparent(Stream& s) {
  if (auto name = fakes.name_of(s.destination)) {
    s.name = *name;
    if (!rules.allows(s.name, s.port)) return refuse(s, What::tcp, Reason::port_not_allowed, "");
    s.state = Stream::State::inspecting;
    bool web = s.port == 80 || s.port == 443;
    s.deadline_ms = s.accepted_ms + (web ? config.first_bytes_ms : config.server_first_ms);
    return;
  }
  if (rules.allows(s.destination, s.port)) {
    s.candidates = {s.destination};
    return begin_connect(s);
  }
  if (rules.cidr_contains(s.destination)) return refuse(s, What::tcp, Reason::port_not_allowed, "");
  refuse(s, What::tcp, Reason::ip_literal,
         FakeNames::in_fake_range(s.destination) ? "an address this run's DNS never gave out" : "");
}

void Broker::Impl::on_stream_event(uint64_t id, bool upstream_side, uint32_t events) {
  auto it = streams.find(id);
  if (it == streams.end()) return;
  Stream& s = *it->second;
  using State = Stream::State;
  if (upstream_side) {
    if (s.state == State::connecting) return on_connect_done(s);
    if (s.state != State::relaying) return;
    return on_relay_event(s, true, events);
  }
  if (s.state == State::relaying) return on_relay_event(s, false, events);
  if (events & EPOLLERR) return close_stream(s, true);
  if (events & EPOLLOUT) {
    Flush f = flush_to_client(s);
    if (f == Flush::failed) return close_stream(s, true);
    if (f == Flush::done && s.state == State::closing) {
      shutdown(s.client.get(), SHUT_WR);
    }
  }
  if (events & (EPOLLIN | EPOLLHUP)) {
    switch (s.state) {
      case State::proxy_head: return read_proxy_head(s);
      case State::inspecting: return read_first_bytes(s);
      case State::dns: return read_dns_stream(s);
      case State::closing: {
        // Discard what the client still sends, so that our close is not an RST that could
        // destroy the 403 before the client has read it.
        // Bounded per event, so that a jail that keeps sending cannot hold the loop here.
        char sink[4096];
        ssize_t n = 1;
        for (int round = 0; round < 64 && n > 0; ++round) n = recv(s.client.get(), sink, sizeof sink, 0);
        if (n == 0 || (n < 0 && !would_block(errno))) return close_stream(s, false);
        break;
      }
      default:
        // Resolving, connecting or waiting for the resolver: we do not read now. A hangup
        // ends the connection; data waits in the socket.
        if (events & EPOLLHUP) return close_stream(s, false);
        break;
    }
  }
  update_interest(s);
}

void Broker::Impl::on_stream_deadline(Stream& s) {
  using State = Stream::State;
  switch (s.state) {
    case State::inspecting:
      if (!s.any_client_byte && s.port != 80 && s.port != 443) {
        // Silence on a port where the server may speak first (SMTP, MySQL): the destination is
        // the allowed name's own address, so relay without reading the client first.
        return first_bytes_ok(s);
      }
      return decide_first_bytes(s, true);
    case State::proxy_head: return proxy_error(s, 408, "agentjail: network: no complete request head in time");
    case State::connecting:
      log("network: connect to " + to_string(s.connected, s.port) + " for " + target_text(s) + ": timed out");
      return try_next_candidate(s);
    case State::resolving:
      log("network: resolving " + s.name + ": timed out");
      if (s.kind == Stream::Kind::proxy && !s.sent_200) return proxy_error(s, 504, "agentjail: network: resolving " + s.name + " timed out");
      return close_stream(s, true);
    default: return close_stream(s, s.state != State::closing);
  }
}

void Broker::Impl::close_stream(Stream& s, bool reset) {
  if (s.record != SIZE_MAX) recorder.finish_connection(s.record, s.bytes_out, s.bytes_in, now() - s.accepted_ms);
  if (s.client) {
    unwatch(s.client.get());
    if (reset) set_reset_on_close(s.client.get());
  }
  if (s.upstream) {
    if (s.upstream_registered) unwatch(s.upstream.get());
    if (reset) set_reset_on_close(s.upstream.get());
  }
  streams.erase(s.id);  // s is gone
}

void Broker::Impl::update_interest(Stream& s) {
  using State = Stream::State;
  bool to_client_pending = s.to_client_sent < s.to_client.size();
  uint32_t client = 0, upstream = 0;
  switch (s.state) {
    case State::proxy_head:
    case State::inspecting:
    case State::dns:
    case State::closing: client = EPOLLIN; break;
    case State::relaying:
      if (!s.upstream_dead && s.in_sent == s.in.size() && !s.client_eof && s.up_fill < s.pipe_bytes && !s.up_full)
        client |= EPOLLIN;
      if (s.down_fill > 0) client |= EPOLLOUT;
      if (!s.upstream_eof && s.down_fill < s.pipe_bytes && !s.down_full) upstream |= EPOLLIN;
      if (s.up_fill > 0 || s.in_sent < s.in.size()) upstream |= EPOLLOUT;
      break;
    case State::connecting: upstream = EPOLLOUT; break;
    default: break;
  }
  if (to_client_pending) client |= EPOLLOUT;
  if (client != s.client_events) {
    s.client_events = client;
    watch(s.client.get(), kClientTag, s.id, client, false);
  }
  if (s.upstream && !s.upstream_dead && (upstream != s.upstream_events || !s.upstream_registered)) {
    s.upstream_events = upstream;
    watch(s.upstream.get(), kUpstreamTag, s.id, upstream, !s.upstream_registered);
    s.upstream_registered = true;
  }
}

// ---- the first bytes: TLS server name or HTTP Host -------------------------------------------

void Broker::Impl::read_first_bytes(Stream& s) {
  size_t cap = std::max(tls::kMaxHello, http::kMaxHead);
  while (s.in.size() < cap) {
    size_t old = s.in.size();
    s.in.resize(cap);
    ssize_t n = recv(s.client.get(), s.in.data() + old, cap - old, 0);
    s.in.resize(old + size_t(std::max<ssize_t>(n, 0)));
    if (n == 0) {
      if (s.in.empty()) return close_stream(s, false);  // gone before it said where to
      // Its last bytes, then its end (`printf ... | nc`, a client that shuts down its side after
      // the request): judged on what came, as at the deadline, and relayed with the end.
      s.client_eof = true;
      return decide_first_bytes(s, true);
    }
    if (n < 0) {
      if (would_block(errno)) break;
      return close_stream(s, true);
    }
    if (!s.any_client_byte) {
      s.any_client_byte = true;
      s.deadline_ms = s.accepted_ms + config.first_bytes_ms;
    }
  }
  decide_first_bytes(s, false);
}

void Broker::Impl::decide_first_bytes(Stream& s, bool timed_out) {
  bool tls_port = s.port == 443, http_port = s.port == 80;
  tls::Hello hello = tls::parse_client_hello(s.in);
  switch (hello.status) {
    case tls::Hello::Status::ok: {
      auto sni = normalize_name(hello.server_name);
      if (sni && *sni == s.name) return first_bytes_ok(s);
      return refuse(s, What::tls, Reason::sni_mismatch, "server name " + aj::quoted(hello.server_name));
    }
    case tls::Hello::Status::need_more:
      if (!timed_out) return update_interest(s);
      log("network: " + target_text(s) + ": no complete TLS ClientHello in time");
      return close_stream(s, true);
    case tls::Hello::Status::no_sni:
    case tls::Hello::Status::encrypted:
      return refuse(s, What::tls, Reason::sni_mismatch, tls::to_string(hello.status));
    case tls::Hello::Status::malformed:
      return refuse(s, What::tls, Reason::sni_mismatch, "malformed ClientHello: " + hello.problem);
    case tls::Hello::Status::not_tls: break;
  }
  http::Head head = http::parse_request_head(s.in);
  switch (head.status) {
    case http::Head::Status::ok: {
      auto matches = [&](const http::Authority& a) {
        auto host = normalize_name(a.host);
        return host && *host == s.name && (!a.port || *a.port == s.port);
      };
      if (!head.host) return refuse(s, What::http, Reason::host_mismatch, "no Host header");
      if (!matches(*head.host)) return refuse(s, What::http, Reason::host_mismatch, "Host " + aj::quoted(head.host->host));
      if (head.target_authority && !matches(*head.target_authority))
        return refuse(s, What::http, Reason::host_mismatch, "request target " + aj::quoted(head.target));
      return first_bytes_ok(s);
    }
    case http::Head::Status::need_more:
      if (!timed_out) return update_interest(s);
      log("network: " + target_text(s) + ": no complete HTTP request head in time");
      return close_stream(s, true);
    case http::Head::Status::malformed:
      return refuse(s, What::http, Reason::host_mismatch, "malformed request: " + head.problem);
    case http::Head::Status::not_http: break;
  }
  if (tls_port) return refuse(s, What::tls, Reason::sni_mismatch, "not TLS on port 443");
  if (http_port) return refuse(s, What::http, Reason::host_mismatch, "not HTTP on port 80");
  first_bytes_ok(s);  // another protocol, on a port allowed for this name
}

void Broker::Impl::first_bytes_ok(Stream& s) {
  if (s.candidates.empty()) return begin_resolve(s);
  begin_connect(s);  // a proxy tunnel, resolved before its "200"
}

// ---- the explicit proxy -----------------------------------------------------------------------

void Broker::Impl::proxy_error(Stream& s, int status, std::string line) {
  const char* text = status == 403 ? "Forbidden" : status == 400 ? "Bad Request" : status == 408 ? "Request Timeout"
                   : status == 502 ? "Bad Gateway" : status == 504 ? "Gateway Timeout" : "Error";
  line += "\n";
  s.to_client = "HTTP/1.1 " + std::to_string(status) + " " + text +
                "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(line.size()) +
                "\r\nConnection: close\r\n\r\n" + line;
  s.to_client_sent = 0;
  s.state = Stream::State::closing;
  s.deadline_ms = now() + kCloseMs;
  if (s.upstream) {
    if (s.upstream_registered) unwatch(s.upstream.get());
    s.upstream.reset();
    s.upstream_registered = false;
  }
  Flush f = flush_to_client(s);
  if (f == Flush::failed) return close_stream(s, true);
  if (f == Flush::done) shutdown(s.client.get(), SHUT_WR);
  update_interest(s);
}

void Broker::Impl::read_proxy_head(Stream& s) {
  while (s.in.size() < http::kMaxHead) {
    size_t old = s.in.size();
    s.in.resize(http::kMaxHead);
    ssize_t n = recv(s.client.get(), s.in.data() + old, http::kMaxHead - old, 0);
    s.in.resize(old + size_t(std::max<ssize_t>(n, 0)));
    if (n == 0) return close_stream(s, false);
    if (n < 0) {
      if (would_block(errno)) break;
      return close_stream(s, true);
    }
  }
  http::Head head = http::parse_request_head(s.in);
  if (head.status == http::Head::Status::need_more) return update_interest(s);
  if (head.status != http::Head::Status::ok)
    return proxy_error(s, 400, "agentjail: network: not an HTTP proxy request" +
                                   (head.problem.empty() ? std::string() : " (" + head.problem + ")"));
  http::Authority target;
  if (head.method == "CONNECT") {
    s.proxy_connect = true;
    target = *head.target_authority;
    s.in.erase(s.in.begin(), s.in.begin() + long(head.head_length));  // the rest is the tunnel's
  } else if (head.target_authority) {
    if (head.target_scheme != "http")
      return proxy_error(s, 400, "agentjail: network: the proxy forwards http:// URLs; use CONNECT for " +
                                     head.target_scheme);
    target = *head.target_authority;
    // The request goes to the server as sent but for its target, in origin form (servers need
    // not take absolute URLs, and Python's http.server does not); its Host must agree with the
    // URL, since a server may route by either, and is added when an HTTP/1.0 client sent none.
    std::string rest(s.in.begin() + long(head.method.size() + 1 + head.target.size()), s.in.end());
    if (std::string_view(reinterpret_cast<const char*>(s.in.data()) + head.method.size() + 1, head.target.size()) !=
        head.target)
      return proxy_error(s, 400, "agentjail: network: a request line with more than one space");
    std::string rewritten = head.method + " " + head.origin_form + rest;
    if (!head.host) {
      size_t line_end = rewritten.find('\n');
      const std::string& h = head.target_authority->host;
      rewritten.insert(line_end + 1, "Host: " + (h.find(':') != std::string::npos ? "[" + h + "]" : h) +
                                         (target.port ? ":" + std::to_string(*target.port) : "") + "\r\n");
    }
    s.in.assign(rewritten.begin(), rewritten.end());
    if (head.host && (!same_host(head.host->host, target.host) ||
                      head.host->port.value_or(80) != target.port.value_or(80))) {
      s.port = target.port.value_or(80);
      if (auto address = Address::parse(target.host)) s.destination = *address;
      else s.name = normalize_name(target.host).value_or(lower(target.host));
      return refuse(s, What::http, Reason::host_mismatch, "Host " + aj::quoted(head.host->host));
    }
  } else {
    return proxy_error(s, 400, "agentjail: network: this is a proxy: send CONNECT host:port or GET http://host/path");
  }
  s.port = target.port.value_or(80);
  if (auto address = Address::parse(target.host)) {
    s.destination = *address;
    if (rules.allows(*address, s.port)) {
      s.candidates = {*address};
      return after_resolve(s);
    }
    return refuse(s, What::http, rules.cidr_contains(*address) ? Reason::port_not_allowed : Reason::ip_literal, "");
  }
  auto name = normalize_name(target.host);
  if (!name) return proxy_error(s, 400, "agentjail: network: " + aj::quoted(target.host) + " is not a host name");
  s.name = *name;
  if (!rules.allows_name(s.name)) return refuse(s, What::http, Reason::not_allowed, "");
  if (!rules.allows(s.name, s.port)) return refuse(s, What::http, Reason::port_not_allowed, "");
  begin_resolve(s);
}

// ---- resolving and connecting -----------------------------------------------------------------

void Broker::Impl::begin_resolve(Stream& s) {
  s.state = Stream::State::resolving;
  s.deadline_ms = now() + config.resolve_ms + 1000;  // c-ares times out first; this is a backstop
  if (auto it = pinned.find(s.name); it != pinned.end()) {
    // network.resolve: the caller chose this address, private or not.
    s.candidates = {it->second};
    return after_resolve(s);
  }
  update_interest(s);
  uint64_t id = s.id;
  resolver->lookup(s.name, now(), [this, id](const Resolved& r) { on_resolved(id, r); });
}

void Broker::Impl::on_resolved(uint64_t id, const Resolved& r) {
  auto it = streams.find(id);
  if (it == streams.end() || it->second->state != Stream::State::resolving) return;
  Stream& s = *it->second;
  if (r.status != Resolved::Status::ok) {
    log("network: resolving " + s.name + " on the host: " + r.error);
    if (s.kind == Stream::Kind::proxy && !s.sent_200)
      return proxy_error(s, 502, "agentjail: network: " + s.name + " could not be resolved (" + r.error + ")");
    return close_stream(s, true);
  }
  std::vector<Address> allowed;
  for (const Address& a : r.addresses)
    if (is_public(a) || rules.allows(a, s.port)) allowed.push_back(a);
  if (allowed.empty()) {
    const Address& first = r.addresses.front();
    return refuse(s, What::resolve, Reason::private_address,
                  "it resolves to " + first.to_string() + ", a " + to_string(classify(first)) + " address", first);
  }
  s.candidates = std::move(allowed);
  after_resolve(s);
}

void Broker::Impl::after_resolve(Stream& s) {
  if (s.kind == Stream::Kind::proxy && s.proxy_connect && !s.sent_200) {
    s.sent_200 = true;
    s.to_client = "HTTP/1.1 200 Connection established\r\n\r\n";
    s.to_client_sent = 0;
    if (flush_to_client(s) == Flush::failed) return close_stream(s, true);
    if (!s.name.empty()) {
      // The tunnel is inspected as a transparent connection is: its TLS server name or HTTP
      // Host must be the name the CONNECT asked for.
      s.state = Stream::State::inspecting;
      s.any_client_byte = !s.in.empty();
      bool web = s.port == 80 || s.port == 443;
      s.deadline_ms = now() + (web || s.any_client_byte ? config.first_bytes_ms : config.server_first_ms);
      if (!s.in.empty()) return decide_first_bytes(s, false);
      return update_interest(s);
    }
  }
  begin_connect(s);
}

void Broker::Impl::begin_connect(Stream& s) {
  if (config.max_connections && connections_started >= *config.max_connections)
    return refuse(s, What::tcp, Reason::connection_cap, std::to_string(*config.max_connections) + " connections");
  if (config.max_bytes && bytes_out_total + s.in.size() > *config.max_bytes)
    return refuse(s, What::tcp, Reason::byte_cap, std::to_string(*config.max_bytes) + " bytes");
  ++connections_started;
  s.counted = true;
  // What the client sent before the relay (the ClientHello, the request head) leaves first; it
  // is reserved against the byte cap now, so that two connections cannot both spend the rest.
  bytes_out_total += s.in.size();
  s.bytes_out += s.in.size();
  s.next_candidate = 0;
  try_next_candidate(s);
}

void Broker::Impl::try_next_candidate(Stream& s) {
  if (s.upstream) {
    if (s.upstream_registered) unwatch(s.upstream.get());
    s.upstream.reset();
    s.upstream_registered = false;
  }
  while (s.next_candidate < s.candidates.size()) {
    const Address& a = s.candidates[s.next_candidate++];
    sys::UniqueFd fd(socket(a.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
      log("network: socket for " + to_string(a, s.port) + ": " + errno_text(errno));
      continue;
    }
    socklen_t len;
    sockaddr_storage sa = a.to_sockaddr(s.port, &len);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0 || errno == EINPROGRESS) {
      int one = 1;
      setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      s.upstream = std::move(fd);
      s.connected = a;
      s.state = Stream::State::connecting;
      s.deadline_ms = now() + config.connect_ms;
      return update_interest(s);
    }
    log("network: connect to " + to_string(a, s.port) + " for " + target_text(s) + ": " + errno_text(errno));
  }
  // Every address failed: not a refusal (the destination was allowed), so not in "denied".
  bytes_out_total -= s.in.size() - s.in_sent;
  s.bytes_out -= s.in.size() - s.in_sent;
  if (s.kind == Stream::Kind::proxy && !s.sent_200)
    return proxy_error(s, 502, "agentjail: network: could not connect to " + target_text(s));
  close_stream(s, true);
}

void Broker::Impl::on_connect_done(Stream& s) {
  int error = 0;
  socklen_t len = sizeof error;
  if (getsockopt(s.upstream.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  if (error != 0) {
    log("network: connect to " + to_string(s.connected, s.port) + " for " + target_text(s) + ": " + errno_text(error));
    return try_next_candidate(s);
  }
  start_relay(s);
}

// ---- the relay ---------------------------------------------------------------------------------

void Broker::Impl::start_relay(Stream& s) {
  int up[2], down[2];
  if (pipe2(up, O_NONBLOCK | O_CLOEXEC) != 0) return close_stream(s, true);
  s.up_read.reset(up[0]);
  s.up_write.reset(up[1]);
  if (pipe2(down, O_NONBLOCK | O_CLOEXEC) != 0) return close_stream(s, true);
  s.down_read.reset(down[0]);
  s.down_write.reset(down[1]);
  // What the pipes really hold: past the user's pipe-user-pages-soft the kernel makes them one
  // page. Counting on more would keep the client watched while its pipe is full, and the loop
  // would spin on a readable socket it cannot drain.
  int up_size = fcntl(up[1], F_GETPIPE_SZ), down_size = fcntl(down[1], F_GETPIPE_SZ);
  if (up_size > 0 && down_size > 0) s.pipe_bytes = std::min({kPipeBytes, size_t(up_size), size_t(down_size)});
  s.state = Stream::State::relaying;
  s.deadline_ms = kNever;
  Connection c;
  c.t_ms = since_start(s.accepted_ms);
  if (!s.name.empty()) c.host = s.name;
  c.port = s.port;
  c.address = s.connected.to_string();
  c.via = s.via;
  s.record = recorder.start_connection(std::move(c));
  log("network: relaying " + target_text(s) + " to " + to_string(s.connected, s.port));
  pump(s);
}

Broker::Impl::Flush Broker::Impl::flush_to_client(Stream& s) {
  while (s.to_client_sent < s.to_client.size()) {
    ssize_t n = send(s.client.get(), s.to_client.data() + s.to_client_sent, s.to_client.size() - s.to_client_sent,
                     MSG_NOSIGNAL);
    if (n < 0) return would_block(errno) ? Flush::pending : Flush::failed;
    s.to_client_sent += size_t(n);
  }
  return Flush::done;
}

void Broker::Impl::on_relay_event(Stream& s, bool upstream_side, uint32_t events) {
  if (events & EPOLLERR) return close_stream(s, true);
  uint64_t id = s.id;
  pump(s);
  if (!(events & EPOLLHUP) || !streams.count(id)) return;
  // Level-triggered HUP repeats until the socket is gone: a client that can neither send nor
  // receive ends the connection; an upstream that did may still have bytes in our pipe for
  // the client, so it is only dropped from the epoll set.
  if (!upstream_side) return close_stream(s, false);
  s.upstream_eof = s.upstream_shut = s.upstream_dead = true;
  if (s.upstream_registered) unwatch(s.upstream.get());
  s.upstream_registered = false;
  if (s.down_fill == 0) return close_stream(s, false);
  update_interest(s);
}

void Broker::Impl::pump(Stream& s) {
  constexpr unsigned kSplice = SPLICE_F_NONBLOCK | SPLICE_F_MOVE;
  Flush f = flush_to_client(s);
  if (f == Flush::failed) return close_stream(s, true);
  if (s.upstream_dead && (s.up_fill > 0 || s.in_sent < s.in.size())) return close_stream(s, true);
  for (int round = 0; round < 64; ++round) {
    bool progress = false;
    // Jail -> outside: first what was read while deciding, then the socket through the pipe.
    if (s.upstream_dead) {
      // Nothing goes out any more; the jail's further bytes are dropped with the connection.
    } else if (s.in_sent < s.in.size()) {
      ssize_t n = send(s.upstream.get(), s.in.data() + s.in_sent, s.in.size() - s.in_sent, MSG_NOSIGNAL);
      if (n > 0) {
        s.in_sent += size_t(n);
        progress = true;
        if (s.in_sent == s.in.size()) {
          s.in.clear();
          s.in.shrink_to_fit();
          s.in_sent = 0;
        }
      } else if (n < 0 && !would_block(errno)) {
        return close_stream(s, true);
      }
    } else {
      if (!s.client_eof && s.up_fill < s.pipe_bytes && !s.up_full) {
        size_t room = s.pipe_bytes - s.up_fill;
        if (config.max_bytes) room = std::min<uint64_t>(room, *config.max_bytes - bytes_out_total);
        if (room == 0) {
          // The egress cap is spent. More data from the jail is a refusal; an end is not.
          char probe;
          ssize_t n = recv(s.client.get(), &probe, 1, MSG_PEEK);
          if (n > 0)
            return refuse(s, What::tcp, Reason::byte_cap, std::to_string(*config.max_bytes) + " bytes");
          if (n == 0) {
            s.client_eof = true;
            progress = true;
          } else if (!would_block(errno)) {
            return close_stream(s, true);
          }
        } else {
          ssize_t n = splice(s.client.get(), nullptr, s.up_write.get(), nullptr, room, kSplice);
          if (n > 0) {
            s.up_fill += size_t(n);
            s.bytes_out += uint64_t(n);
            bytes_out_total += uint64_t(n);
            progress = true;
          } else if (n == 0) {
            s.client_eof = true;
            progress = true;
          } else if (!would_block(errno)) {
            return close_stream(s, true);
          } else if (s.up_fill > 0) {
            s.up_full = true;
          }
        }
      }
      if (s.up_fill > 0) {
        ssize_t n = splice(s.up_read.get(), nullptr, s.upstream.get(), nullptr, s.up_fill, kSplice);
        if (n > 0) {
          s.up_fill -= size_t(n);
          s.up_full = false;
          progress = true;
        } else if (n < 0 && !would_block(errno)) {
          return close_stream(s, true);
        }
      }
      if (s.client_eof && s.up_fill == 0 && !s.upstream_shut) {
        shutdown(s.upstream.get(), SHUT_WR);
        s.upstream_shut = true;
      }
    }
    // Outside -> jail.
    if (!s.upstream_dead && !s.upstream_eof && s.down_fill < s.pipe_bytes && !s.down_full) {
      ssize_t n = splice(s.upstream.get(), nullptr, s.down_write.get(), nullptr, s.pipe_bytes - s.down_fill, kSplice);
      if (n > 0) {
        s.down_fill += size_t(n);
        s.bytes_in += uint64_t(n);
        progress = true;
      } else if (n == 0) {
        s.upstream_eof = true;
        progress = true;
      } else if (!would_block(errno)) {
        return close_stream(s, true);
      } else if (s.down_fill > 0) {
        s.down_full = true;
      }
    }
    if (s.down_fill > 0 && f == Flush::done) {
      ssize_t n = splice(s.down_read.get(), nullptr, s.client.get(), nullptr, s.down_fill, kSplice);
      if (n > 0) {
        s.down_fill -= size_t(n);
        s.down_full = false;
        progress = true;
      } else if (n < 0 && !would_block(errno)) {
        return close_stream(s, true);
      }
    }
    if (s.upstream_eof && s.down_fill == 0 && !s.client_shut) {
      shutdown(s.client.get(), SHUT_WR);
      s.client_shut = true;
    }
    if (s.client_shut && s.upstream_shut) return close_stream(s, false);
    if (s.upstream_dead && s.down_fill == 0) return close_stream(s, false);
    if (!progress) break;
  }
  update_interest(s);
}

void Broker::Impl::refuse(Stream& s, What what, Reason reason, std::string detail, std::optional<Address> address) {
  std::optional<std::string> name;
  if (!s.name.empty()) name = s.name;
  if (!address && s.name.empty()) address = s.destination;
  deny(what, name, address, s.port, reason, detail);
  if (s.kind == Stream::Kind::proxy && !s.sent_200) {
    Denial d;
    d.what = what;
    d.name = name;
    if (address) d.address = address->to_string();
    d.port = s.port;
    d.reason = reason;
    d.detail = std::move(detail);
    return proxy_error(s, 403, "agentjail: " + describe(d));
  }
  close_stream(s, true);
}

}  // namespace aj::net
