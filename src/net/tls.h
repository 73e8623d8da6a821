// The server name of a TLS ClientHello: what a connection says it is for, before any byte of it
// reaches the outside. Input is the first bytes a client in the jail sent (hostile); the parser
// walks the record layer (the hello may span several records), the handshake header and the
// hello's fixed fields to its extensions, checking every length against the one around it.
//
// Why not OpenSSL's client-hello callback: it needs a whole SSL server object fed through a
// memory BIO, links libssl and libcrypto (megabytes) into the static binary for a few dozen
// lines of length checks, and reports "need more bytes" and "not TLS" no differently from a
// failed handshake. The strict walk here is fuzzed (tests/fuzz/tls_fuzz.cc).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace aj::net::tls {

inline constexpr size_t kMaxHello = 16 * 1024;  // record bytes we wait for at most

struct Hello {
  enum class Status {
    ok,            // `server_name` holds the SNI host name
    need_more,     // a valid prefix of a ClientHello: read more (up to kMaxHello)
    not_tls,       // the first bytes are not a TLS handshake record
    no_sni,        // a complete ClientHello without a server_name extension
    encrypted,     // an encrypted_client_hello (ECH) or ESNI extension: the real name is hidden
    malformed,     // a length that does not fit, a duplicate extension, a bad name, too large
  };
  Status status = Status::need_more;
  std::string server_name;  // ok only; as sent (case kept)
  std::string problem;      // malformed: what was wrong
};

Hello parse_client_hello(std::span<const uint8_t> data);
const char* to_string(Hello::Status status);

}  // namespace aj::net::tls
