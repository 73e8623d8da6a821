#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "http/request.h"
#include "http/response.h"

using namespace aj::http;
using State = RequestParser::State;

namespace {

// Feeds `wire` in pieces of `step` bytes, the way reads from a slow socket arrive.
RequestParser::Fed feed_in_pieces(RequestParser& parser, std::string_view wire, size_t step, size_t* used = nullptr) {
  size_t offset = 0;
  RequestParser::Fed fed{State::need_more, 0};
  while (offset < wire.size()) {
    fed = parser.feed(wire.substr(offset, step));
    offset += fed.consumed;
    if (fed.state != State::need_more) break;
    if (fed.consumed == 0) break;
  }
  if (used) *used = offset;
  return fed;
}

}  // namespace

TEST_CASE("http: a request split at every byte parses the same") {
  const std::string wire =
      "POST /v1/runs?stream=ndjson&x=a%20b HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Empty:\r\nX-Long-Name: v\r\nContent-Length: 11\r\n\r\n{\"a\": true}";
  for (size_t step : {size_t{1}, size_t{2}, size_t{7}, wire.size()}) {
    CAPTURE(step);
    RequestParser parser;
    auto fed = feed_in_pieces(parser, wire, step);
    REQUIRE(fed.state == State::complete);
    Request request = parser.take();
    CHECK(request.method == "POST");
    CHECK(request.path == "/v1/runs");
    CHECK(request.query == "stream=ndjson&x=a%20b");
    CHECK(request.query_param("stream") == "ndjson");
    CHECK(request.query_param("x") == "a b");
    CHECK_FALSE(request.query_param("y").has_value());
    CHECK(request.body == "{\"a\": true}");
    CHECK(request.keep_alive);
    REQUIRE(request.header("content-type"));
    CHECK(*request.header("content-type") == "application/json");
    REQUIRE(request.header("empty"));
    CHECK(request.header("empty")->empty());
    REQUIRE(request.header("x-long-name"));
    CHECK(*request.header("x-long-name") == "v");
    CHECK(request.headers.size() == 5);
  }
}

TEST_CASE("http: chunked bodies are decoded and counted against the cap") {
  const std::string wire =
      "POST /v1/runs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
  RequestParser parser;
  auto fed = feed_in_pieces(parser, wire, 3);
  REQUIRE(fed.state == State::complete);
  CHECK(parser.take().body == "hello world");

  RequestParser small(ParserLimits{.max_body = 8});
  fed = feed_in_pieces(small, wire, 3);
  REQUIRE(fed.state == State::error);
  CHECK(small.error().status == 413);
}

TEST_CASE("http: Content-Length over the cap is refused before the body arrives") {
  RequestParser parser(ParserLimits{.max_body = 100});
  auto fed = parser.feed("POST /v1/runs HTTP/1.1\r\nContent-Length: 101\r\nExpect: 100-continue\r\n\r\n");
  REQUIRE(fed.state == State::error);
  CHECK(parser.error().status == 413);
  CHECK_FALSE(parser.take_continue());
}

TEST_CASE("http: Expect 100-continue is reported once") {
  RequestParser parser;
  auto fed = parser.feed("POST /v1/runs HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  CHECK(fed.state == State::need_more);
  CHECK(parser.head_complete());
  CHECK(parser.take_continue());
  CHECK_FALSE(parser.take_continue());
  fed = parser.feed("{}");
  CHECK(fed.state == State::complete);
}

TEST_CASE("http: pipelined requests come out one at a time, in order") {
  const std::string wire =
      "GET /v1/health HTTP/1.1\r\n\r\nGET /v1/metrics HTTP/1.1\r\n\r\nDELETE /v1/runs/x HTTP/1.1\r\nConnection: close\r\n\r\n";
  RequestParser parser;
  std::string_view rest = wire;
  std::vector<std::string> seen;
  while (!rest.empty()) {
    auto fed = parser.feed(rest);
    REQUIRE(fed.state == State::complete);
    rest.remove_prefix(fed.consumed);
    Request request = parser.take();
    seen.push_back(request.method + " " + request.path + (request.keep_alive ? "" : " close"));
  }
  CHECK(seen == std::vector<std::string>{"GET /v1/health", "GET /v1/metrics", "DELETE /v1/runs/x close"});
}

TEST_CASE("http: caps on the head") {
  SUBCASE("head size") {
    RequestParser parser(ParserLimits{.max_head = 256});
    std::string wire = "GET / HTTP/1.1\r\nX: " + std::string(300, 'a') + "\r\n\r\n";
    auto fed = feed_in_pieces(parser, wire, 10);
    REQUIRE(fed.state == State::error);
    CHECK(parser.error().status == 431);
  }
  SUBCASE("header count") {
    RequestParser parser(ParserLimits{.max_headers = 3});
    auto fed = parser.feed("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
    REQUIRE(fed.state == State::error);
    CHECK(parser.error().status == 431);
  }
  SUBCASE("target length") {
    RequestParser parser(ParserLimits{.max_target = 32});
    auto fed = parser.feed("GET /" + std::string(40, 'a') + " HTTP/1.1\r\n\r\n");
    REQUIRE(fed.state == State::error);
    CHECK(parser.error().status == 414);
  }
  SUBCASE("whitespace that the callbacks never see") {
    RequestParser parser(ParserLimits{.max_head = 256, .max_headers = 4});
    std::string wire = "GET / HTTP/1.1\r\nX:" + std::string(2000, ' ') + "1\r\n\r\n";
    auto fed = feed_in_pieces(parser, wire, 100);
    REQUIRE(fed.state == State::error);
    CHECK(parser.error().status == 431);
  }
}

TEST_CASE("http: malformed and unsupported requests get their status") {
  struct Case {
    const char* wire;
    int status;
  };
  for (Case c : {Case{"GARBAGE\r\n\r\n", 501}, Case{"GET / HTTP/2.0\r\n\r\n", 505},
                 Case{"GET http://example.com/ HTTP/1.1\r\n\r\n", 400},
                 Case{"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
                 Case{"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
                 Case{"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
                 Case{"GET / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417},
                 Case{"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400}}) {
    std::string wire = c.wire;
    CAPTURE(wire);
    RequestParser parser;
    auto fed = parser.feed(c.wire);
    REQUIRE(fed.state == State::error);
    CHECK(parser.error().status == c.status);
    CHECK_FALSE(parser.error().message.empty());
    // Once refused, the parser takes nothing more.
    CHECK(parser.feed("GET / HTTP/1.1\r\n\r\n").state == State::error);
  }
}

TEST_CASE("http: a connection closed mid-request is an error, between requests it is not") {
  RequestParser idle;
  CHECK(idle.finish().state == State::need_more);
  RequestParser cut;
  CHECK(cut.feed("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc").state == State::need_more);
  CHECK(cut.in_request());
  CHECK(cut.finish().state == State::error);
}

TEST_CASE("http: HTTP/1.0 closes unless it asks for keep-alive") {
  RequestParser parser;
  REQUIRE(parser.feed("GET / HTTP/1.0\r\n\r\n").state == State::complete);
  CHECK_FALSE(parser.take().keep_alive);
  RequestParser kept;
  REQUIRE(kept.feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").state == State::complete);
  CHECK(kept.take().keep_alive);
}

TEST_CASE("http: an upgrade request is answered and the connection closed") {
  RequestParser parser;
  auto fed = parser.feed("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x01\x02");
  REQUIRE(fed.state == State::complete);
  CHECK_FALSE(parser.take().keep_alive);
}

TEST_CASE("http: responses") {
  Response response{404, {{"Content-Type", "application/json"}, {"X-Bad", "a\r\nInjected: 1"}}, "{}"};
  CHECK(serialize(response, true) ==
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        "Connection: keep-alive\r\n\r\n{}");
  CHECK(serialize(response, false, true) ==
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
  CHECK(chunked_head(200, {}, true) == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n");
  CHECK(chunk("hello world, this is 29 bytes") == "1d\r\nhello world, this is 29 bytes\r\n");
  CHECK(chunk("").empty());
  CHECK(last_chunk() == "0\r\n\r\n");
}

TEST_CASE("http: the write queue keeps order across a full socket") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  int size = 4096;
  ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  WriteQueue queue(1024);
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    std::string piece = std::to_string(i) + std::string(997, 'x') + "\n";
    expected += piece;
    queue.push(piece);
  }
  CHECK(queue.over_high_water());
  std::string received;
  char buffer[65536];
  while (!queue.empty()) {
    REQUIRE(queue.flush(fds[0]));
    ssize_t n;
    while ((n = ::read(fds[1], buffer, sizeof buffer)) > 0) received.append(buffer, static_cast<size_t>(n));
  }
  CHECK(received == expected);
  CHECK_FALSE(queue.over_high_water());
  ::close(fds[1]);
  queue.push("after close");
  CHECK_FALSE(queue.flush(fds[0]));
  ::close(fds[0]);
}
