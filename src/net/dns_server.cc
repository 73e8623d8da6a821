// The jail's DNS: queries to port 53 of any address, over UDP or TCP. Allowed names get an
// address from the fake ranges (fake_names.h) once the host has resolved them to a public
// address; every other question is refused here, and nothing is ever forwarded.
//
// The answers, and why (docs/network.md says the same):
//   allowed name, A or AAAA      the fake address (AAAA only when the jail has IPv6; else no data)
//   allowed name, other types    NOERROR without data, recorded: HTTPS/SVCB could carry an
//                                ECH key or other addresses, TXT/ANY/... could carry data
//   allowed, host says no such   NXDOMAIN (not a refusal: the name does not exist)
//   allowed, private addresses   NXDOMAIN, recorded as private_address
//   host resolver failing        SERVFAIL
//   any other name               NXDOMAIN, recorded. Not REFUSED: glibc and others take REFUSED
//                                for a broken server, try the next and report a temporary
//                                failure that programs retry; NXDOMAIN ends the lookup at once
//   class other than IN          REFUSED; opcode other than QUERY: NOTIMP; unreadable: FORMERR
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstring>

#include "base/strings.h"
#include "net/broker_impl.h"
#include "net/dns.h"

namespace aj::net {

namespace {

// The name as the record shows it: normalized when it can be, else as sent (bounded, printable).
std::string shown_name(const std::string& raw) {
  if (auto n = normalize_name(raw)) return *n;
  return lower(raw.substr(0, 253));
}

}  // namespace

void Broker::Impl::answer_query(std::span<const uint8_t> message, Reply reply) {
  dns::ParseResult parsed = dns::parse_query(message);
  using Status = dns::ParseResult::Status;
  if (parsed.status == Status::drop) {
    // A response or a runt: answering could make two resolvers answer each other forever.
    deny(What::dns, std::nullopt, std::nullopt, std::nullopt, Reason::not_allowed, "not a DNS query: " + parsed.problem);
    return reply({});
  }
  if (parsed.status != Status::ok) {
    deny(What::dns, std::nullopt, std::nullopt, std::nullopt, Reason::not_allowed, "DNS message: " + parsed.problem);
    return reply(dns::build_error(parsed.query.id, parsed.query.recursion_desired,
                                  parsed.status == Status::notimp ? dns::NOTIMP : dns::FORMERR));
  }
  const dns::Query& q = parsed.query;
  std::vector<uint8_t> question(message.begin(), message.begin() + long(q.question_end));
  auto answer = [question = std::move(question), q, reply](dns::Rcode rcode, std::optional<Address> address) {
    reply(dns::build_answer(question, q, rcode, address, kDnsTtl));
  };
  auto name = normalize_name(q.name);
  if (!name || !rules.allows_name(*name)) {
    deny(What::dns, shown_name(q.name), std::nullopt, std::nullopt, Reason::not_allowed, dns::type_name(q.type) + " query");
    return answer(dns::NXDOMAIN, std::nullopt);
  }
  if (q.qclass != dns::kClassIn) {
    deny(What::dns, *name, std::nullopt, std::nullopt, Reason::not_allowed, "class " + std::to_string(q.qclass));
    return answer(dns::REFUSED, std::nullopt);
  }
  if (q.type != dns::A && q.type != dns::AAAA) {
    deny(What::dns, *name, std::nullopt, std::nullopt, Reason::not_allowed,
         dns::type_name(q.type) + " query: only A and AAAA are answered");
    return answer(dns::NOERROR, std::nullopt);
  }
  if (q.type == dns::AAAA && !config.ipv6) return answer(dns::NOERROR, std::nullopt);

  auto give = [this, answer, type = q.type](const std::string& n) {
    auto pair = fakes.assign(n);
    if (!pair) {
      deny(What::dns, n, std::nullopt, std::nullopt, Reason::connection_cap,
           std::to_string(FakeNames::kMaxNames) + " distinct names in one run");
      return answer(dns::SERVFAIL, std::nullopt);
    }
    answer(dns::NOERROR, type == dns::AAAA ? pair->v6 : pair->v4);
  };
  if (pinned.count(*name)) return give(*name);
  // The host resolves the name first: a name that does not exist gets its real NXDOMAIN, and
  // one that resolves only to addresses the jail may not reach is refused already here (the
  // connection checks again: the answer may change before it, as in DNS rebinding).
  std::string n = *name;
  resolver->lookup(n, now(), [this, n, give, answer](const Resolved& r) {
    if (r.status == Resolved::Status::not_found) return answer(dns::NXDOMAIN, std::nullopt);
    if (r.status == Resolved::Status::failed) {
      log("network: resolving " + n + " on the host: " + r.error);
      return answer(dns::SERVFAIL, std::nullopt);
    }
    for (const Address& a : r.addresses)
      if (is_public(a) || rules.cidr_contains(a)) return give(n);
    const Address& first = r.addresses.front();
    deny(What::resolve, n, first, std::nullopt, Reason::private_address,
         "it resolves to " + first.to_string() + ", a " + to_string(classify(first)) + " address");
    answer(dns::NXDOMAIN, std::nullopt);
  });
}

void Broker::Impl::on_udp(Listener& listener) {
  size_t index = size_t(&listener - listeners.data());
  for (int i = 0; i < 64; ++i) {
    uint8_t buffer[dns::kMaxQuery + 1];
    sockaddr_storage peer{};
    iovec iov{buffer, sizeof buffer};
    alignas(cmsghdr) char control[256];
    msghdr msg{};
    msg.msg_name = &peer;
    msg.msg_namelen = sizeof peer;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(listener.fd.get(), &msg, MSG_DONTWAIT);
    if (n < 0) return;
    if (msg.msg_flags & MSG_TRUNC) n = sizeof buffer;  // over kMaxQuery: parse_query drops it
    // The address the query was sent to: the reply must come from it (an AnyIP address is not
    // one the socket would pick as source), or the client's connected socket discards it.
    std::optional<in6_pktinfo> to6;
    std::optional<in_pktinfo> to4;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        to6 = info;
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        to4 = info;
      }
    }
    if (udp_pending >= kMaxUdpPending) continue;  // a flood: dropped, as a busy server would
    ++udp_pending;
    socklen_t peer_len = msg.msg_namelen;
    answer_query(std::span(buffer, size_t(n)), [this, index, peer, peer_len, to6, to4](std::vector<uint8_t> bytes) {
      --udp_pending;
      if (bytes.empty() || finished || index >= listeners.size()) return;
      iovec out{bytes.data(), bytes.size()};
      alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
      msghdr reply{};
      reply.msg_name = const_cast<sockaddr_storage*>(&peer);
      reply.msg_namelen = peer_len;
      reply.msg_iov = &out;
      reply.msg_iovlen = 1;
      if (to6 || to4) {
        reply.msg_control = ctl;
        cmsghdr* c = reinterpret_cast<cmsghdr*>(ctl);
        if (to6) {
          reply.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
          c->cmsg_level = IPPROTO_IPV6;
          c->cmsg_type = IPV6_PKTINFO;
          c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
          in6_pktinfo info = *to6;
          std::memcpy(CMSG_DATA(c), &info, sizeof info);
        } else {
          reply.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
          c->cmsg_level = IPPROTO_IP;
          c->cmsg_type = IP_PKTINFO;
          c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
          in_pktinfo info{};
          info.ipi_spec_dst = to4->ipi_addr;
          std::memcpy(CMSG_DATA(c), &info, sizeof info);
        }
      }
      if (sendmsg(listeners[index].fd.get(), &reply, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        log("network: DNS reply: " + errno_text(errno));
    });
  }
}

void Broker::Impl::read_dns_stream(Stream& s) {
  constexpr size_t kCap = 2 * (2 + dns::kMaxQuery);
  while (s.in.size() < kCap) {
    size_t old = s.in.size();
    s.in.resize(kCap);
    ssize_t n = recv(s.client.get(), s.in.data() + old, kCap - old, 0);
    s.in.resize(old + size_t(std::max<ssize_t>(n, 0)));
    if (n == 0) {
      if (s.state == Stream::State::dns && s.in.size() < 2) return close_stream(s, false);
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return close_stream(s, true);
    }
  }
  process_dns_frames(s);
}

void Broker::Impl::process_dns_frames(Stream& s) {
  uint64_t id = s.id;
  s.in_dns_loop = true;
  while (s.state == Stream::State::dns && s.in.size() >= 2) {
    size_t length = size_t(s.in[0] << 8 | s.in[1]);
    if (length > dns::kMaxQuery || length == 0) {
      deny(What::dns, std::nullopt, std::nullopt, std::nullopt, Reason::not_allowed,
           "DNS over TCP message of " + std::to_string(length) + " bytes");
      return close_stream(s, true);
    }
    if (s.in.size() < 2 + length) break;
    if (++s.dns_queries > kMaxDnsPerStream) return close_stream(s, true);
    std::vector<uint8_t> message(s.in.begin() + 2, s.in.begin() + long(2 + length));
    s.in.erase(s.in.begin(), s.in.begin() + long(2 + length));
    s.state = Stream::State::dns_waiting;
    answer_query(message, [this, id](std::vector<uint8_t> bytes) {
      auto it = streams.find(id);
      if (it == streams.end()) return;
      Stream& t = *it->second;
      if (!bytes.empty()) t.to_client.push_back(char(bytes.size() >> 8));
      if (!bytes.empty()) t.to_client.push_back(char(bytes.size()));
      t.to_client.append(bytes.begin(), bytes.end());
      t.state = Stream::State::dns;
      t.deadline_ms = now() + kDnsIdleMs;
      if (t.in_dns_loop) return;  // the loop below goes on
      Flush f = flush_to_client(t);
      if (f == Flush::failed) return close_stream(t, true);
      process_dns_frames(t);
    });
    if (!streams.count(id)) return;
  }
  s.in_dns_loop = false;
  if (s.to_client_sent == s.to_client.size()) {
    s.to_client.clear();
    s.to_client_sent = 0;
  }
  Flush f = flush_to_client(s);
  if (f == Flush::failed) return close_stream(s, true);
  update_interest(s);
}

}  // namespace aj::net
