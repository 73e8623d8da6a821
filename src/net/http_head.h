// The head of an HTTP/1.x request sent by a client in the jail (hostile): the method, the
// target and the Host header, which is all the broker decides on. Built on Debian's
// http-parser (the parser Node.js used for a decade), fed only once the whole head is in,
// at most kMaxHead bytes.
//
// Three uses: a plain-HTTP connection's Host must be the name it was opened for; the explicit
// proxy reads "CONNECT host:port HTTP/1.1" and absolute-form "GET http://host/path HTTP/1.1".
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace aj::net::http {

inline constexpr size_t kMaxHead = 16 * 1024;

struct Authority {
  std::string host;               // a name, or an address (IPv6 without brackets)
  std::optional<uint16_t> port;   // as written; nullopt when absent
};

// "example.org", "example.org:8080", "[2001:db8::1]:443"; nullopt for anything else (userinfo,
// an empty host, a port outside 1-65535).
std::optional<Authority> parse_authority(std::string_view text);

struct Head {
  enum class Status {
    ok,          // the fields below are filled
    need_more,   // a prefix of a request head: read more (up to kMaxHead)
    not_http,    // the first bytes are no HTTP method
    malformed,   // not a valid HTTP/1.x request head; or two Host headers; or larger than kMaxHead
  };
  Status status = Status::need_more;
  std::string method;                 // "GET", "CONNECT", ...
  std::string target;                 // the request target as sent
  std::optional<Authority> host;      // the Host header, when there is exactly one
  // CONNECT: the authority-form target; otherwise an absolute-form target's host and port
  // ("http://host:port/..."). nullopt for origin-form ("/path").
  std::optional<Authority> target_authority;
  std::string target_scheme;          // absolute-form only, lower case ("http")
  std::string origin_form;            // absolute-form only: its path and query ("/a?b"; "/" if none)
  size_t head_length = 0;             // bytes up to and including the blank line
  std::string problem;                // malformed: what was wrong
};

Head parse_request_head(std::span<const uint8_t> data);

}  // namespace aj::net::http
