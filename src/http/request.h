// Server side of HTTP/1.1 requests: a bounded, incremental parser for a non-blocking poll
// loop, built on Debian's http-parser (the Node.js parser in C: no allocation, no threads,
// fed whatever bytes a read(2) returned).
//
// One request at a time: the parser stops after each complete request, so pipelined requests
// wait in the caller's buffer and are answered in order. Every byte is counted against a cap
// before it is kept: head size, header count, target length, body size and the framing bytes
// of a chunked body; a request over one is an error with the status to answer (400, 413, 414,
// 431, 501, 505), never a larger buffer.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aj::http {

struct ParserLimits {
  size_t max_head = 16 * 1024;          // request line and every header, bytes as they come
  size_t max_headers = 64;              // header fields (trailers of a chunked body included)
  size_t max_target = 4096;             // request target ("/v1/runs?stream=ndjson")
  uint64_t max_body = 64ull << 20;      // decoded body bytes (--max-body)
};

struct Request {
  std::string method;                   // "GET", "POST", ...
  std::string target;                   // as sent: "/v1/runs?stream=ndjson"
  std::string path;                     // the target before '?'
  std::string query;                    // after '?', without it ("" when none)
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
  std::string body;
  bool keep_alive = true;               // HTTP/1.1 without "Connection: close", or 1.0 with keep-alive
  int version_minor = 1;                // HTTP/1.x

  // The value of the first header called `name` (lower case), if any.
  const std::string* header(std::string_view name) const;
  // The value of `name` in the query string (percent-decoded); "" for a bare `name`.
  std::optional<std::string> query_param(std::string_view name) const;
};

// An answer to a request the parser refused: the status and a one-line reason.
struct ParseError {
  int status = 400;
  std::string message;
};

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {});
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  enum class State { need_more, complete, error };
  struct Fed {
    State state;
    size_t consumed;  // bytes of `data` used; the rest belongs to the next request
  };
  // Feeds the next bytes of the connection. Stops at the end of one complete request
  // (take() it, then feed the rest) or at the first error (the connection must answer
  // error() and close: framing is lost).
  Fed feed(std::string_view data);
  // The peer closed its side: a request cut short is an error, a clean boundary is not.
  Fed finish();

  // The complete request; the parser is ready for the next one.
  Request take();
  const ParseError& error() const { return error_; }
  // Some byte of a request has been seen and it is not complete yet (for the head deadline
  // and to tell an idle keep-alive connection from a slow request).
  bool in_request() const { return started_ && !complete_; }
  bool head_complete() const { return head_complete_; }
  // The head asked for "Expect: 100-continue" and the body has not started: the caller sends
  // "100 Continue" once (the flag clears when read).
  bool take_continue();

 private:
  static int on_message_begin(http_parser* parser);
  static int on_url(http_parser* parser, const char* at, size_t length);
  static int on_header_field(http_parser* parser, const char* at, size_t length);
  static int on_header_value(http_parser* parser, const char* at, size_t length);
  static int on_headers_complete(http_parser* parser);
  static int on_body(http_parser* parser, const char* at, size_t length);
  static int on_message_complete(http_parser* parser);
  int refuse(int status, std::string message);
  bool count_head(size_t length);
  void reset();

  ParserLimits limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  Request request_;
  ParseError error_;
  bool started_ = false, head_complete_ = false, complete_ = false, failed_ = false;
  bool in_value_ = false, field_cut_ = false, expect_continue_ = false;
  const char* fed_begin_ = nullptr;  // the bytes being fed, while http_parser_execute runs
  const char* fed_end_ = nullptr;
  size_t head_bytes_ = 0;
  // Bytes of this request as sent, framing included (and any blank lines before it): all of
  // them, and those of the head. Reset only by take(), never in the middle of a feed.
  uint64_t wire_bytes_ = 0, head_wire_ = 0;
};

// "a%20b" -> "a b"; '+' stays '+' (only form bodies use it for a space). Bad escapes stay as they are.
std::string percent_decode(std::string_view text);

}  // namespace aj::http
