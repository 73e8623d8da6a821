#include "net/http_head.h"

#include <http_parser.h>

#include <cstring>

#include "base/strings.h"

namespace aj::net::http {

namespace {

struct Collector {
  std::string url;
  std::string field, value;
  bool in_value = false;
  int host_headers = 0;
  std::string host;
  bool headers_done = false;

  void end_header() {
    if (!in_value) return;
    if (lower(field) == "host") {
      ++host_headers;
      host = value;
    }
    field.clear();
    value.clear();
    in_value = false;
  }
};

Collector* of(http_parser* p) { return static_cast<Collector*>(p->data); }

int on_url(http_parser* p, const char* at, size_t length) {
  of(p)->url.append(at, length);
  return 0;
}
int on_header_field(http_parser* p, const char* at, size_t length) {
  Collector* c = of(p);
  c->end_header();
  c->field.append(at, length);
  return 0;
}
int on_header_value(http_parser* p, const char* at, size_t length) {
  Collector* c = of(p);
  c->in_value = true;
  c->value.append(at, length);
  return 0;
}
int on_headers_complete(http_parser* p) {
  Collector* c = of(p);
  c->end_header();
  c->headers_done = true;
  http_parser_pause(p, 1);  // the body, or a tunnel's bytes, are not ours to parse
  return 0;
}

Head malformed(std::string problem) {
  Head h;
  h.status = Head::Status::malformed;
  h.problem = std::move(problem);
  return h;
}

// Where the head ends: just past "\r\n\r\n" (or a bare "\n\n", which http-parser also takes).
std::optional<size_t> head_end(std::span<const uint8_t> data) {
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    if (data[i] != '\n') continue;
    if (data[i + 1] == '\n') return i + 2;
    if (data[i + 1] == '\r' && i + 2 < data.size() && data[i + 2] == '\n') return i + 3;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Authority> parse_authority(std::string_view text) {
  Authority a;
  std::string_view port_text;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    a.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
    if (a.host.find(':') == std::string::npos) return std::nullopt;
  } else {
    size_t colon = text.find(':');
    a.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
  }
  if (a.host.empty()) return std::nullopt;
  for (char c : a.host)
    if (c == '@' || c == '/' || c == '?' || c == '#' || c == ' ' || c == '\\' || static_cast<unsigned char>(c) < 0x21 ||
        static_cast<unsigned char>(c) > 0x7e)
      return std::nullopt;
  if (!port_text.empty()) {
    if (port_text.size() > 5) return std::nullopt;
    unsigned port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return std::nullopt;
      port = port * 10 + unsigned(c - '0');
    }
    if (port == 0 || port > 65535) return std::nullopt;
    a.port = uint16_t(port);
  }
  return a;
}

Head parse_request_head(std::span<const uint8_t> data) {
  // Not HTTP when the first byte cannot begin a method (every method is upper-case letters);
  // decided on the first byte, so a TLS or binary protocol is told apart at once.
  if (!data.empty() && !(data[0] >= 'A' && data[0] <= 'Z')) return Head{Head::Status::not_http};
  auto end = head_end(data.first(std::min(data.size(), kMaxHead)));
  if (!end) {
    if (data.size() >= kMaxHead) return malformed("request head larger than 16 KiB");
    // A request line must come within a line's reach: a method is at most 20 letters.
    for (size_t i = 0; i < data.size() && i < 24; ++i) {
      if (data[i] == ' ') return Head{Head::Status::need_more};
      if (!(data[i] >= 'A' && data[i] <= 'Z')) return Head{Head::Status::not_http};
    }
    if (data.size() >= 24) return Head{Head::Status::not_http};
    return Head{Head::Status::need_more};
  }

  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  Collector collector;
  parser.data = &collector;
  http_parser_settings settings;
  std::memset(&settings, 0, sizeof settings);
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_headers_complete = on_headers_complete;
  http_parser_execute(&parser, &settings, reinterpret_cast<const char*>(data.data()), *end);
  auto error = HTTP_PARSER_ERRNO(&parser);
  if (error != HPE_OK && error != HPE_PAUSED) {
    if (error == HPE_INVALID_METHOD) return Head{Head::Status::not_http};
    return malformed(std::string("HTTP request head: ") + http_errno_description(error));
  }
  if (!collector.headers_done) return malformed("HTTP request head does not end where its blank line is");
  if (parser.http_major != 1) return malformed("not HTTP/1.x");
  if (collector.host_headers > 1) return malformed("two Host headers");

  Head head;
  head.status = Head::Status::ok;
  head.method = http_method_str(http_method(parser.method));
  head.target = collector.url;
  head.head_length = *end;
  if (collector.host_headers == 1) {
    head.host = parse_authority(trim(collector.host));
    if (!head.host) return malformed("Host header " + aj::quoted(collector.host) + " is not host[:port]");
  }
  if (parser.method == HTTP_CONNECT) {
    head.target_authority = parse_authority(collector.url);
    if (!head.target_authority || !head.target_authority->port)
      return malformed("CONNECT target " + aj::quoted(collector.url) + " is not host:port");
    return head;
  }
  if (!collector.url.empty() && collector.url.front() != '/' && collector.url != "*") {
    http_parser_url url;
    http_parser_url_init(&url);
    if (http_parser_parse_url(collector.url.data(), collector.url.size(), 0, &url) != 0 ||
        !(url.field_set & (1 << UF_SCHEMA)) || !(url.field_set & (1 << UF_HOST)))
      return malformed("request target " + aj::quoted(collector.url) + " is neither /path nor scheme://host/path");
    if (url.field_set & (1 << UF_USERINFO)) return malformed("request target with user:password@");
    auto field = [&](int f) { return collector.url.substr(url.field_data[f].off, url.field_data[f].len); };
    head.target_scheme = lower(field(UF_SCHEMA));
    Authority authority;
    authority.host = field(UF_HOST);
    if (url.field_set & (1 << UF_PORT)) {
      if (url.port == 0) return malformed("port 0 in the request target");
      authority.port = url.port;
    }
    head.target_authority = std::move(authority);
    head.origin_form = (url.field_set & (1 << UF_PATH)) ? field(UF_PATH) : "/";
    if (url.field_set & (1 << UF_QUERY)) head.origin_form += "?" + field(UF_QUERY);
  }
  return head;
}

}  // namespace aj::net::http
