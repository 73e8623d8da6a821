// The DNS wire format, as far as a stub resolver's query and our answer to it need: one
// question in, at most one address out. Queries come from inside the jail and are hostile; the
// parser reads only the header and the question, never follows a compression pointer (a query
// has nothing before its question to point at), and ignores whatever follows the question
// (EDNS options among it: our answers fit in 512 bytes and carry none).
//
// Why not a DNS library: libldns parses every record type and DNSSEC and drags libcrypto into the
// static binary; a query is a 12-byte header and one name, and the smallest strict parser of
// exactly that is the least attack surface (tests/fuzz/dns_fuzz.cc feeds it arbitrary bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "egress/address.h"

namespace aj::net::dns {

inline constexpr size_t kMaxQuery = 512;  // a larger message is not a stub's query: dropped

enum Type : uint16_t { A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16, AAAA = 28,
                       SRV = 33, OPT = 41, SVCB = 64, HTTPS = 65, ANY = 255 };
enum Rcode : uint8_t { NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4, REFUSED = 5 };
inline constexpr uint16_t kClassIn = 1;

// "A", "TXT", "TYPE4711".
std::string type_name(uint16_t type);

struct Query {
  uint16_t id = 0;
  bool recursion_desired = false;
  std::string name;          // dotted, as received (case kept), no trailing dot; "" for the root
  uint16_t type = 0;
  uint16_t qclass = 0;
  size_t question_end = 0;   // offset just past the question: the bytes an answer repeats
};

struct ParseResult {
  enum class Status {
    ok,       // `query` is filled
    drop,     // not a query we may answer: too short for a header, a response (QR set), too long
    formerr,  // a query header with a question we cannot read: answer FORMERR with `query.id`
    notimp,   // an opcode other than QUERY: answer NOTIMP
  };
  Status status = Status::drop;
  Query query;  // id and recursion_desired are set whenever status != drop
  std::string problem;  // why, for the record
};

ParseResult parse_query(std::span<const uint8_t> message);

// An answer to `query` (whose wire bytes are `message`): the header, the question copied from
// the query, and one A or AAAA record when `address` is given (its family picks the type).
std::vector<uint8_t> build_answer(std::span<const uint8_t> message, const Query& query, Rcode rcode,
                                  const std::optional<Address>& address = std::nullopt, uint32_t ttl = 0);
// A header-only answer (FORMERR, NOTIMP) for a query whose question could not be read.
std::vector<uint8_t> build_error(uint16_t id, bool recursion_desired, Rcode rcode);

}  // namespace aj::net::dns
