#include "net/dns.h"

namespace aj::net::dns {

namespace {

uint16_t get16(std::span<const uint8_t> m, size_t at) { return uint16_t(m[at] << 8 | m[at + 1]); }

void put16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(uint8_t(value >> 8));
  out.push_back(uint8_t(value));
}

void put32(std::vector<uint8_t>& out, uint32_t value) {
  put16(out, uint16_t(value >> 16));
  put16(out, uint16_t(value));
}

constexpr size_t kHeader = 12;
constexpr size_t kMaxName = 255;  // wire length, labels and length bytes (RFC 1035 2.3.4)

}  // namespace

std::string type_name(uint16_t type) {
  switch (type) {
    case A: return "A";
    case NS: return "NS";
    case CNAME: return "CNAME";
    case SOA: return "SOA";
    case PTR: return "PTR";
    case MX: return "MX";
    case TXT: return "TXT";
    case AAAA: return "AAAA";
    case SRV: return "SRV";
    case OPT: return "OPT";
    case SVCB: return "SVCB";
    case HTTPS: return "HTTPS";
    case ANY: return "ANY";
  }
  return "TYPE" + std::to_string(type);
}

ParseResult parse_query(std::span<const uint8_t> m) {
  ParseResult result;
  if (m.size() < kHeader) {
    result.problem = "shorter than a DNS header";
    return result;
  }
  if (m.size() > kMaxQuery) {
    result.problem = "longer than " + std::to_string(kMaxQuery) + " bytes";
    return result;
  }
  uint16_t flags = get16(m, 2);
  if (flags & 0x8000) {
    result.problem = "a response, not a query";  // never answered: no reflection loops
    return result;
  }
  result.query.id = get16(m, 0);
  result.query.recursion_desired = flags & 0x0100;
  unsigned opcode = (flags >> 11) & 0xf;
  if (opcode != 0) {
    result.status = ParseResult::Status::notimp;
    result.problem = "opcode " + std::to_string(opcode);
    return result;
  }
  result.status = ParseResult::Status::formerr;
  uint16_t questions = get16(m, 4), answers = get16(m, 6), authority = get16(m, 8);
  if (questions != 1) {
    result.problem = std::to_string(questions) + " questions";
    return result;
  }
  if (answers != 0 || authority != 0) {
    result.problem = "a query with answer or authority records";
    return result;
  }

  std::string name;
  size_t at = kHeader;
  size_t wire_length = 0;
  for (;;) {
    if (at >= m.size()) {
      result.problem = "question name runs past the message";
      return result;
    }
    uint8_t length = m[at];
    if (length & 0xc0) {
      // 0xc0: a compression pointer, which a query's only question has nothing to point back
      // to; 0x40 and 0x80: label types that were never deployed (RFC 6891 retired them).
      result.problem = "compressed or extended label in the question";
      return result;
    }
    wire_length += size_t(length) + 1;
    if (wire_length > kMaxName) {
      result.problem = "question name longer than 255 bytes";
      return result;
    }
    ++at;
    if (length == 0) break;
    if (at + length > m.size()) {
      result.problem = "question name runs past the message";
      return result;
    }
    if (!name.empty()) name += '.';
    for (size_t i = 0; i < length; ++i) {
      char c = char(m[at + i]);
      // A dot or a byte outside printable ASCII inside a label cannot be a host name; keeping
      // the label would let "a.b" (one label) pass for two.
      if (c == '.' || static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        result.problem = "question name has a byte no host name has";
        return result;
      }
      name += c;
    }
    at += length;
  }
  if (at + 4 > m.size()) {
    result.problem = "question without type and class";
    return result;
  }
  result.query.name = std::move(name);
  result.query.type = get16(m, at);
  result.query.qclass = get16(m, at + 2);
  result.query.question_end = at + 4;
  result.status = ParseResult::Status::ok;
  return result;
}

std::vector<uint8_t> build_answer(std::span<const uint8_t> message, const Query& query, Rcode rcode,
                                  const std::optional<Address>& address, uint32_t ttl) {
  std::vector<uint8_t> out;
  out.reserve(query.question_end + 28);
  put16(out, query.id);
  // QR, opcode 0, AA (we are the only authority the jail has), RD echoed, RA.
  put16(out, uint16_t(0x8000 | 0x0400 | (query.recursion_desired ? 0x0100 : 0) | 0x0080 | rcode));
  put16(out, 1);
  put16(out, address ? 1 : 0);
  put16(out, 0);
  put16(out, 0);
  out.insert(out.end(), message.begin() + kHeader, message.begin() + long(query.question_end));
  if (address) {
    put16(out, 0xc000 | kHeader);  // the name: a pointer to the question's
    put16(out, address->v6 ? AAAA : A);
    put16(out, kClassIn);
    put32(out, ttl);
    put16(out, uint16_t(address->size()));
    out.insert(out.end(), address->bytes.begin(), address->bytes.begin() + long(address->size()));
  }
  return out;
}

std::vector<uint8_t> build_error(uint16_t id, bool recursion_desired, Rcode rcode) {
  std::vector<uint8_t> out;
  put16(out, id);
  put16(out, uint16_t(0x8000 | (recursion_desired ? 0x0100 : 0) | 0x0080 | rcode));
  for (int i = 0; i < 4; ++i) put16(out, 0);
  return out;
}

}  // namespace aj::net::dns
