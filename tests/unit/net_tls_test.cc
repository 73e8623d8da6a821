#include "net/tls.h"

#include <doctest/doctest.h>

#include <vector>

#include "sys/files.h"

using namespace aj::net::tls;

namespace {

std::vector<uint8_t> fixture(const std::string& name) {
  auto text = aj::sys::read_file(std::string(AGENTJAIL_SOURCE_DIR) + "/tests/unit/data/net/" + name);
  REQUIRE_MESSAGE(text.has_value(), name);
  return std::vector<uint8_t>(text->begin(), text->end());
}

// The same handshake bytes cut into records of at most `size` bytes each.
std::vector<uint8_t> split_records(const std::vector<uint8_t>& one_record, size_t size) {
  std::vector<uint8_t> out;
  std::vector<uint8_t> body(one_record.begin() + 5, one_record.end());
  for (size_t at = 0; at < body.size(); at += size) {
    size_t n = std::min(size, body.size() - at);
    out.insert(out.end(), {22, 3, 1, uint8_t(n >> 8), uint8_t(n)});
    out.insert(out.end(), body.begin() + long(at), body.begin() + long(at + n));
  }
  return out;
}

// Finds extension `type` in a single-record hello and returns the offset of its type field.
size_t find_extension(const std::vector<uint8_t>& hello, uint16_t type) {
  size_t at = 5 + 4 + 2 + 32;
  at += 1 + hello[at];
  at += 2 + size_t(hello[at] << 8 | hello[at + 1]);
  at += 1 + hello[at];
  at += 2;
  while (at + 4 <= hello.size()) {
    uint16_t t = uint16_t(hello[at] << 8 | hello[at + 1]);
    if (t == type) return at;
    at += 4 + size_t(hello[at + 2] << 8 | hello[at + 3]);
  }
  FAIL("extension not found");
  return 0;
}

}  // namespace

TEST_CASE("net tls: real ClientHellos carry their server names") {
  Hello python = parse_client_hello(fixture("hello_python.bin"));
  CHECK(python.status == Hello::Status::ok);
  CHECK(python.server_name == "files.pythonhosted.org");
  Hello openssl = parse_client_hello(fixture("hello_openssl.bin"));
  CHECK(openssl.status == Hello::Status::ok);
  CHECK(openssl.server_name == "pypi.org");
  Hello curl = parse_client_hello(fixture("hello_curl.bin"));
  CHECK(curl.status == Hello::Status::ok);
  CHECK(curl.server_name == "api.example.com");
  CHECK(parse_client_hello(fixture("hello_python_nosni.bin")).status == Hello::Status::no_sni);
}

TEST_CASE("net tls: every prefix of a hello asks for more, across record boundaries") {
  auto hello = fixture("hello_python.bin");
  for (size_t size : {hello.size(), size_t(1), size_t(7), size_t(100)}) {
    auto records = size == hello.size() ? hello : split_records(hello, size);
    for (size_t n = 0; n < records.size(); ++n) {
      Hello h = parse_client_hello(std::span(records).first(n));
      REQUIRE_MESSAGE(h.status == Hello::Status::need_more, "prefix " << n << " of records of " << size);
    }
    Hello whole = parse_client_hello(records);
    CHECK(whole.status == Hello::Status::ok);
    CHECK(whole.server_name == "files.pythonhosted.org");
  }
}

TEST_CASE("net tls: other protocols are told apart at the first bytes") {
  std::vector<uint8_t> http = {'G', 'E', 'T', ' ', '/'};
  CHECK(parse_client_hello(http).status == Hello::Status::not_tls);
  std::vector<uint8_t> ssh = {'S', 'S', 'H', '-'};
  CHECK(parse_client_hello(ssh).status == Hello::Status::not_tls);
  std::vector<uint8_t> sslv2ish = {22, 2, 0};
  CHECK(parse_client_hello(sslv2ish).status == Hello::Status::not_tls);
  std::vector<uint8_t> one = {22};
  CHECK(parse_client_hello(one).status == Hello::Status::need_more);
}

TEST_CASE("net tls: malformed and hiding hellos") {
  auto hello = fixture("hello_openssl.bin");

  auto too_long = hello;  // the record claims a byte more than the handshake holds
  too_long[4] += 1;
  too_long.push_back(0);
  CHECK(parse_client_hello(too_long).status == Hello::Status::malformed);

  auto not_hello = hello;  // a ServerHello in a client's first record
  not_hello[5] = 2;
  CHECK(parse_client_hello(not_hello).status == Hello::Status::malformed);

  auto split = split_records(hello, 50);  // an alert record in the middle of the hello
  split[55] = 21;
  CHECK(parse_client_hello(split).status == Hello::Status::malformed);

  auto zero_record = std::vector<uint8_t>{22, 3, 1, 0, 0};
  CHECK(parse_client_hello(zero_record).status == Hello::Status::malformed);

  // The SNI extension renamed to ECH: the real name would be hidden.
  auto ech = hello;
  size_t sni = find_extension(ech, 0);
  ech[sni] = 0xfe;
  ech[sni + 1] = 0x0d;
  CHECK(parse_client_hello(ech).status == Hello::Status::encrypted);
  auto esni = hello;
  esni[sni] = 0xff;
  esni[sni + 1] = 0xce;
  CHECK(parse_client_hello(esni).status == Hello::Status::encrypted);

  // A second server_name: rename the extension after it to 0.
  auto twice = hello;
  size_t next = sni + 4 + size_t(twice[sni + 2] << 8 | twice[sni + 3]);
  twice[next] = 0;
  twice[next + 1] = 0;
  CHECK(parse_client_hello(twice).status == Hello::Status::malformed);

  // A byte no host name has inside the SNI.
  auto bad_name = hello;
  bad_name[sni + 9] = '/';
  Hello h = parse_client_hello(bad_name);
  CHECK(h.status == Hello::Status::malformed);
  CHECK(!h.problem.empty());

  // A hello that claims more than 16 KiB.
  std::vector<uint8_t> huge = {22, 3, 1, 0x40, 0x00, 1, 0x00, 0x50, 0x00};
  huge.resize(5 + 0x4000, 0);
  CHECK(parse_client_hello(huge).status == Hello::Status::malformed);
}

TEST_CASE("net tls: bytes after a complete hello do not change the verdict") {
  // The client's next records (0-RTT data, a second hello in a broken client) may arrive in
  // the same read as the hello: the decision is the hello's alone, and the same whether or
  // not they are there (the fuzzer once took this for an inconsistency).
  std::vector<uint8_t> hello = fixture("hello_openssl.bin");
  std::vector<uint8_t> more = hello;
  more.insert(more.end(), {23, 3, 3, 0, 3, 'a', 'b', 'c'});
  Hello alone = parse_client_hello(hello);
  Hello followed = parse_client_hello(more);
  CHECK(followed.status == Hello::Status::ok);
  CHECK(followed.server_name == alone.server_name);
  std::vector<uint8_t> twice = hello;
  twice.insert(twice.end(), hello.begin(), hello.end());
  CHECK(parse_client_hello(twice).server_name == "pypi.org");
}
