// libFuzzer target: arbitrary bytes as a DNS query from the jail. Beyond "no crash, no
// sanitizer report": a query that parses is answerable (the answer repeats its question and is
// at most 512 bytes with an address), and its name either normalizes to a valid host name or is
// refused.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "net/dns.h"
#include "egress/rules.h"

using namespace aj::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> message(data, size);
  dns::ParseResult r = dns::parse_query(message);
  if (r.status == dns::ParseResult::Status::ok) {
    if (r.query.question_end > size || r.query.question_end < 17) std::abort();
    auto answer = dns::build_answer(message, r.query, dns::NOERROR, Address::parse("198.18.0.1"), 60);
    if (answer.size() != r.query.question_end + 16 || answer.size() > 512 + 16) std::abort();
    if (answer[0] != data[0] || answer[1] != data[1]) std::abort();
    if (auto name = normalize_name(r.query.name)) {
      if (name->empty() || name->size() > 253) std::abort();
      if (!normalize_name(*name) || *normalize_name(*name) != *name) std::abort();  // idempotent
    }
  } else if (r.status != dns::ParseResult::Status::drop) {
    if (dns::build_error(r.query.id, r.query.recursion_desired, dns::FORMERR).size() != 12) std::abort();
  }
  return 0;
}
