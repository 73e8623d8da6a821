#include "http/request.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <climits>

#include "base/strings.h"

namespace aj::http {
namespace {

RequestParser* self(http_parser* parser) { return static_cast<RequestParser*>(parser->data); }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 9110 token characters: a header name with anything else (a space before the colon, a
// control byte) is how requests are smuggled past proxies that read it differently.
bool is_token(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (std::isalnum(c)) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int high = hex_digit(text[i + 1]), low = hex_digit(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

const std::string* Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (key == name) return &value;
  return nullptr;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  for (const std::string& pair : split(query, '&')) {
    size_t eq = pair.find('=');
    std::string key = percent_decode(std::string_view(pair).substr(0, eq));
    if (key != name) continue;
    return eq == std::string::npos ? std::string() : percent_decode(std::string_view(pair).substr(eq + 1));
  }
  return std::nullopt;
}

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = on_message_begin;
  settings_.on_url = on_url;
  settings_.on_header_field = on_header_field;
  settings_.on_header_value = on_header_value;
  settings_.on_headers_complete = on_headers_complete;
  settings_.on_body = on_body;
  settings_.on_message_complete = on_message_complete;
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

void RequestParser::reset() {
  request_ = Request{};
  started_ = head_complete_ = complete_ = in_value_ = field_cut_ = expect_continue_ = false;
  head_bytes_ = 0;
  head_wire_ = wire_bytes_ = 0;
}

int RequestParser::refuse(int status, std::string message) {
  if (!failed_) error_ = ParseError{status, std::move(message)};
  failed_ = true;
  return 1;  // any non-zero return stops http_parser_execute
}

bool RequestParser::count_head(size_t length) {
  head_bytes_ += length;
  if (head_bytes_ <= limits_.max_head) return true;
  refuse(431, fmt::format("request head is larger than {} bytes", limits_.max_head));
  return false;
}

int RequestParser::on_message_begin(http_parser* parser) {
  RequestParser& p = *self(parser);
  p.started_ = true;
  return 0;
}

int RequestParser::on_url(http_parser* parser, const char* at, size_t length) {
  RequestParser& p = *self(parser);
  if (!p.count_head(length)) return 1;
  if (p.request_.target.size() + length > p.limits_.max_target)
    return p.refuse(414, fmt::format("request target is longer than {} bytes", p.limits_.max_target));
  p.request_.target.append(at, length);
  return 0;
}

int RequestParser::on_header_field(http_parser* parser, const char* at, size_t length) {
  RequestParser& p = *self(parser);
  if (!p.count_head(length)) return 1;
  // A name continues only when the last callback was this name, cut by the end of the bytes
  // fed; an empty value gets no callback, so "the last callback was a name" is not enough.
  const bool continues = !p.in_value_ && p.field_cut_ && at == p.fed_begin_ && !p.request_.headers.empty();
  if (!continues) {
    if (p.request_.headers.size() >= p.limits_.max_headers)
      return p.refuse(431, fmt::format("more than {} header fields", p.limits_.max_headers));
    p.request_.headers.emplace_back();
  }
  p.in_value_ = false;
  p.field_cut_ = at + length == p.fed_end_;
  p.request_.headers.back().first += lower(std::string_view(at, length));
  return 0;
}

int RequestParser::on_header_value(http_parser* parser, const char* at, size_t length) {
  RequestParser& p = *self(parser);
  if (!p.count_head(length)) return 1;
  if (p.request_.headers.empty()) return p.refuse(400, "header value without a name");
  p.in_value_ = true;
  p.field_cut_ = false;
  p.request_.headers.back().second.append(at, length);
  return 0;
}

int RequestParser::on_headers_complete(http_parser* parser) {
  RequestParser& p = *self(parser);
  Request& request = p.request_;
  p.head_complete_ = true;
  for (auto& [name, value] : request.headers) {
    if (!is_token(name)) return p.refuse(400, "bad request: invalid header name " + aj::quoted(name));
    value = std::string(trim(value));
  }
  request.method = http_method_str(static_cast<http_method>(parser->method));
  request.version_minor = parser->http_minor;
  request.keep_alive = http_should_keep_alive(parser) != 0;
  if (parser->http_major != 1) return p.refuse(505, "only HTTP/1.x is served");
  if (request.target.empty() || request.target[0] != '/')
    return p.refuse(400, "request target must be a path (origin form, starting with /)");
  std::string_view target = request.target;
  target = target.substr(0, target.find('#'));
  size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
  // Content-Length is known before a byte of the body is read: refuse early, so a client that
  // waits for "100 Continue" never sends it.
  const bool chunked = (parser->flags & F_CHUNKED) != 0;
  if (!chunked && parser->content_length != ULLONG_MAX && parser->content_length > p.limits_.max_body)
    return p.refuse(413, fmt::format("request body is larger than {} bytes", p.limits_.max_body));
  if (const std::string* expect = request.header("expect")) {
    if (lower(*expect) != "100-continue") return p.refuse(417, "only \"Expect: 100-continue\" is understood");
    p.expect_continue_ = request.version_minor >= 1;
  }
  return 0;
}

int RequestParser::on_body(http_parser* parser, const char* at, size_t length) {
  RequestParser& p = *self(parser);
  p.expect_continue_ = false;
  if (p.request_.body.size() + length > p.limits_.max_body)
    return p.refuse(413, fmt::format("request body is larger than {} bytes", p.limits_.max_body));
  p.request_.body.append(at, length);
  return 0;
}

int RequestParser::on_message_complete(http_parser* parser) {
  RequestParser& p = *self(parser);
  p.complete_ = true;
  p.expect_continue_ = false;
  // One request at a time: what follows (a pipelined request) waits for take().
  http_parser_pause(parser, 1);
  return 0;
}

RequestParser::Fed RequestParser::feed(std::string_view data) {
  if (failed_) return {State::error, 0};
  if (complete_) return {State::complete, 0};
  // The parser is given at most the bytes the caps leave, so a cap is met at the same byte
  // however the stream was cut into reads: the callbacks count what they keep, this counts
  // the rest (spaces, line ends, chunk sizes and extensions), which costs no memory but must
  // not go on for ever.
  const uint64_t head_cap = limits_.max_head + 8 * (limits_.max_headers + 2) + 64;
  const uint64_t wire_cap = limits_.max_head + 2 * limits_.max_body + (1u << 20);
  size_t used = 0;
  while (used < data.size() && !complete_) {
    uint64_t room = wire_cap - wire_bytes_;
    if (!head_complete_) room = std::min(room, head_cap - head_wire_);
    if (room == 0) {
      if (!head_complete_) refuse(431, fmt::format("request head is larger than {} bytes", limits_.max_head));
      else refuse(413, "request framing is larger than its body allows");
      return {State::error, used};
    }
    std::string_view slice = data.substr(used, static_cast<size_t>(std::min<uint64_t>(room, data.size() - used)));
    fed_begin_ = slice.data();
    fed_end_ = slice.data() + slice.size();
    const bool head_before = head_complete_;
    size_t consumed = http_parser_execute(&parser_, &settings_, slice.data(), slice.size());
    fed_begin_ = fed_end_ = nullptr;
    used += consumed;
    wire_bytes_ += consumed;
    if (!head_before) head_wire_ += consumed;  // past the head's end only when it completed here
    if (failed_) return {State::error, used};
    auto code = HTTP_PARSER_ERRNO(&parser_);
    if (code != HPE_OK && code != HPE_PAUSED) {
      int status = code == HPE_HEADER_OVERFLOW ? 431 : code == HPE_INVALID_METHOD ? 501 : 400;
      refuse(status, fmt::format("bad request: {}", http_errno_description(code)));
      return {State::error, used};
    }
    if (parser_.upgrade) {
      if (!complete_) {
        refuse(501, "protocol upgrades are not served");
        return {State::error, used};
      }
      request_.keep_alive = false;  // the bytes after an upgrade request are not HTTP
      break;
    }
    if (consumed < slice.size()) break;  // paused at the end of a request
  }
  return {complete_ ? State::complete : State::need_more, used};
}

RequestParser::Fed RequestParser::finish() {
  if (failed_) return {State::error, 0};
  if (complete_) return {State::complete, 0};
  if (started_) {
    refuse(400, "connection closed in the middle of a request");
    return {State::error, 0};
  }
  return {State::need_more, 0};
}

Request RequestParser::take() {
  Request request = std::move(request_);
  reset();
  http_parser_pause(&parser_, 0);
  return request;
}

bool RequestParser::take_continue() { return std::exchange(expect_continue_, false); }

}  // namespace aj::http
