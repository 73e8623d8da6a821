#include "net/http_head.h"

#include <doctest/doctest.h>

#include <string>

using namespace aj::net::http;

namespace {
Head parse(std::string_view text) {
  return parse_request_head(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}
}  // namespace

TEST_CASE("net http: a plain request's Host") {
  std::string request = "GET /simple/ HTTP/1.1\r\nHost: PyPI.org\r\nUser-Agent: pip\r\n\r\nbody";
  Head h = parse(request);
  REQUIRE(h.status == Head::Status::ok);
  CHECK(h.method == "GET");
  CHECK(h.target == "/simple/");
  REQUIRE(h.host.has_value());
  CHECK(h.host->host == "PyPI.org");
  CHECK_FALSE(h.host->port.has_value());
  CHECK_FALSE(h.target_authority.has_value());
  CHECK(h.head_length == request.size() - 4);

  Head ported = parse("GET / HTTP/1.1\r\nhost: example.org:8080\r\n\r\n");
  REQUIRE(ported.status == Head::Status::ok);
  CHECK(ported.host->port == 8080);

  Head six = parse("GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n");
  REQUIRE(six.status == Head::Status::ok);
  CHECK(six.host->host == "2001:db8::1");

  Head none = parse("GET / HTTP/1.0\r\n\r\n");
  REQUIRE(none.status == Head::Status::ok);
  CHECK_FALSE(none.host.has_value());
}

TEST_CASE("net http: proxy requests") {
  Head connect = parse("CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\n\r\n\x16\x03\x01");
  REQUIRE(connect.status == Head::Status::ok);
  CHECK(connect.method == "CONNECT");
  REQUIRE(connect.target_authority.has_value());
  CHECK(connect.target_authority->host == "pypi.org");
  CHECK(connect.target_authority->port == 443);

  Head six = parse("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n");
  REQUIRE(six.status == Head::Status::ok);
  CHECK(six.target_authority->host == "2001:db8::1");

  Head absolute = parse("GET http://Example.org:8080/a?b HTTP/1.1\r\nHost: example.org:8080\r\n\r\n");
  REQUIRE(absolute.status == Head::Status::ok);
  CHECK(absolute.target_scheme == "http");
  CHECK(absolute.target_authority->host == "Example.org");
  CHECK(absolute.target_authority->port == 8080);
  CHECK(absolute.origin_form == "/a?b");

  Head no_port = parse("GET http://example.org/ HTTP/1.1\r\n\r\n");
  REQUIRE(no_port.status == Head::Status::ok);
  CHECK_FALSE(no_port.target_authority->port.has_value());
  CHECK(no_port.origin_form == "/");
  CHECK(parse("GET http://example.org HTTP/1.1\r\n\r\n").origin_form == "/");
}

TEST_CASE("net http: partial, foreign and malformed heads") {
  CHECK(parse("").status == Head::Status::need_more);
  CHECK(parse("GE").status == Head::Status::need_more);
  CHECK(parse("GET / HTTP/1.1\r\nHost: x").status == Head::Status::need_more);
  CHECK(parse("\x16\x03\x01").status == Head::Status::not_http);
  CHECK(parse("SSH-2.0-OpenSSH_9.2\r\n").status == Head::Status::not_http);
  CHECK(parse("get / HTTP/1.1\r\n\r\n").status == Head::Status::not_http);
  CHECK(parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").status == Head::Status::not_http);
  CHECK(parse("BREW /pot HTTP/1.1\r\n\r\n").status == Head::Status::not_http);

  CHECK(parse("GET / HTTP/1.1\r\nHost: a.org\r\nHost: b.org\r\n\r\n").status == Head::Status::malformed);
  CHECK(parse("GET / HTTP/1.1\r\nHost: a.org/x\r\n\r\n").status == Head::Status::malformed);
  CHECK(parse("GET / HTTP/1.1\r\nHost: user@a.org\r\n\r\n").status == Head::Status::malformed);
  CHECK(parse("GET / HTTP/1.1\r\nHost: a.org:0\r\n\r\n").status == Head::Status::malformed);
  CHECK(parse("GET / HTTP/2.0\r\n\r\n").status == Head::Status::malformed);
  CHECK(parse("CONNECT pypi.org HTTP/1.1\r\n\r\n").status == Head::Status::malformed);
  CHECK(parse("GET http://u:p@a.org/ HTTP/1.1\r\n\r\n").status == Head::Status::malformed);
  CHECK(parse("GET / HTTP/1.1\r\nBad Header\r\n\r\n").status == Head::Status::malformed);

  std::string huge = "GET / HTTP/1.1\r\nX: " + std::string(kMaxHead, 'a');
  CHECK(parse(huge).status == Head::Status::malformed);
}

TEST_CASE("net http: authorities") {
  CHECK(parse_authority("a.org")->host == "a.org");
  CHECK(parse_authority("a.org:1")->port == 1);
  CHECK_FALSE(parse_authority("a.org:").has_value());
  CHECK_FALSE(parse_authority(":80").has_value());
  CHECK_FALSE(parse_authority("a.org:65536").has_value());
  CHECK_FALSE(parse_authority("[a.org]:80").has_value());
  CHECK_FALSE(parse_authority("[::1]x").has_value());
}
