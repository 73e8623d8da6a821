#include "net/dns.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace aj::net;
using namespace aj::net::dns;

namespace {

// A query as a stub resolver sends it: header, one question, optionally an EDNS OPT record.
std::vector<uint8_t> query(std::string_view name, uint16_t type, uint16_t id = 0x1234, bool edns = false) {
  std::vector<uint8_t> m = {uint8_t(id >> 8), uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, uint8_t(edns ? 1 : 0)};
  size_t start = 0;
  while (start <= name.size() && !name.empty()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    m.push_back(uint8_t(dot - start));
    m.insert(m.end(), name.begin() + long(start), name.begin() + long(dot));
    start = dot + 1;
  }
  m.push_back(0);
  m.push_back(uint8_t(type >> 8));
  m.push_back(uint8_t(type));
  m.push_back(0);
  m.push_back(1);
  if (edns) {
    std::vector<uint8_t> opt = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
    m.insert(m.end(), opt.begin(), opt.end());
  }
  return m;
}

}  // namespace

TEST_CASE("net dns: a stub's query parses") {
  auto m = query("Files.PythonHosted.org", AAAA, 0xbeef, true);
  ParseResult r = parse_query(m);
  REQUIRE(r.status == ParseResult::Status::ok);
  CHECK(r.query.id == 0xbeef);
  CHECK(r.query.recursion_desired);
  CHECK(r.query.name == "Files.PythonHosted.org");
  CHECK(r.query.type == AAAA);
  CHECK(r.query.qclass == kClassIn);
  CHECK(r.query.question_end == m.size() - 11);
}

TEST_CASE("net dns: the answer repeats the question and carries one address") {
  auto m = query("pypi.org", A);
  ParseResult r = parse_query(m);
  REQUIRE(r.status == ParseResult::Status::ok);
  auto answer = build_answer(m, r.query, NOERROR, Address::parse("198.18.0.1"), 60);
  // Header: same id, QR|AA|RD|RA, NOERROR, 1 question, 1 answer.
  CHECK(answer[0] == 0x12);
  CHECK(answer[1] == 0x34);
  CHECK(answer[2] == 0x85);
  CHECK(answer[3] == 0x80);
  CHECK(answer[5] == 1);
  CHECK(answer[7] == 1);
  CHECK(std::equal(m.begin() + 12, m.end(), answer.begin() + 12));
  std::vector<uint8_t> record(answer.begin() + long(m.size()), answer.end());
  CHECK(record == std::vector<uint8_t>{0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 1});

  auto six = build_answer(m, r.query, NOERROR, Address::parse("fd6a:6169:6c00::1"), 60);
  CHECK(six.size() == m.size() + 12 + 16);
  CHECK(six[m.size() + 3] == AAAA);

  auto nx = build_answer(m, r.query, NXDOMAIN);
  CHECK(nx.size() == m.size());
  CHECK((nx[3] & 0x0f) == NXDOMAIN);
  CHECK(nx[7] == 0);
}

TEST_CASE("net dns: hostile queries are dropped or answered with an error") {
  CHECK(parse_query(std::vector<uint8_t>(11, 0)).status == ParseResult::Status::drop);
  CHECK(parse_query(std::vector<uint8_t>(600, 0)).status == ParseResult::Status::drop);

  auto response = query("pypi.org", A);
  response[2] |= 0x80;
  CHECK(parse_query(response).status == ParseResult::Status::drop);

  auto update = query("pypi.org", A);
  update[2] |= 5 << 3;
  ParseResult r = parse_query(update);
  CHECK(r.status == ParseResult::Status::notimp);
  CHECK(r.query.id == 0x1234);

  auto two = query("pypi.org", A);
  two[5] = 2;
  CHECK(parse_query(two).status == ParseResult::Status::formerr);

  auto answers = query("pypi.org", A);
  answers[7] = 1;
  CHECK(parse_query(answers).status == ParseResult::Status::formerr);

  // A compression pointer in the question (to the header, or to itself: a loop).
  std::vector<uint8_t> pointer = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
  CHECK(parse_query(pointer).status == ParseResult::Status::formerr);

  auto truncated = query("pypi.org", A);
  truncated.resize(truncated.size() - 3);
  CHECK(parse_query(truncated).status == ParseResult::Status::formerr);

  auto long_label = query("pypi.org", A);
  long_label[12] = 60;  // the label claims more bytes than the message has
  CHECK(parse_query(long_label).status == ParseResult::Status::formerr);

  // A dot inside a label would make "evil.com" in one label look like two.
  auto dotted = query("evilXcom.pypi.org", A);
  dotted[12 + 1 + 4] = '.';
  CHECK(parse_query(dotted).status == ParseResult::Status::formerr);

  std::string deep;
  for (int i = 0; i < 130; ++i) deep += "a.";
  deep += "org";
  CHECK(parse_query(query(deep, A)).status == ParseResult::Status::formerr);

  auto error = build_error(0x4242, true, FORMERR);
  CHECK(error.size() == 12);
  CHECK((error[3] & 0x0f) == FORMERR);
}

TEST_CASE("net dns: type names for messages") {
  CHECK(type_name(TXT) == "TXT");
  CHECK(type_name(HTTPS) == "HTTPS");
  CHECK(type_name(4711) == "TYPE4711");
}
