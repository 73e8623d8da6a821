#include "net/tls.h"

#include <algorithm>
#include <vector>

namespace aj::net::tls {

namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHello = 1;
constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecord = 16384 + 256;  // TLSPlaintext may not exceed 2^14; a little slack for
                                            // implementations that send 2^14 + header-ish
constexpr uint16_t kServerName = 0;
constexpr uint16_t kEncryptedClientHello = 0xfe0d;
constexpr uint16_t kEncryptedServerName = 0xffce;  // the ESNI drafts

// A bounds-checked cursor over the assembled handshake message.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  bool u8(uint8_t* out) {
    if (left() < 1) return false;
    *out = data_[at_++];
    return true;
  }
  bool u16(uint16_t* out) {
    if (left() < 2) return false;
    *out = uint16_t(data_[at_] << 8 | data_[at_ + 1]);
    at_ += 2;
    return true;
  }
  bool u24(uint32_t* out) {
    if (left() < 3) return false;
    *out = uint32_t(data_[at_]) << 16 | uint32_t(data_[at_ + 1]) << 8 | data_[at_ + 2];
    at_ += 3;
    return true;
  }
  bool bytes(size_t n, std::span<const uint8_t>* out) {
    if (left() < n) return false;
    *out = data_.subspan(at_, n);
    at_ += n;
    return true;
  }
  bool skip(size_t n) {
    std::span<const uint8_t> ignored;
    return bytes(n, &ignored);
  }
  size_t left() const { return data_.size() - at_; }

 private:
  std::span<const uint8_t> data_;
  size_t at_ = 0;
};

Hello malformed(std::string problem) {
  Hello h;
  h.status = Hello::Status::malformed;
  h.problem = std::move(problem);
  return h;
}

bool host_name_byte(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_';
}

// The server_name extension (RFC 6066 3): a list holding exactly one host_name.
Hello parse_server_name(std::span<const uint8_t> body) {
  Reader r(body);
  uint16_t list_length;
  if (!r.u16(&list_length) || list_length != r.left()) return malformed("server_name list length");
  std::string name;
  while (r.left() > 0) {
    uint8_t type;
    uint16_t length;
    std::span<const uint8_t> value;
    if (!r.u8(&type) || !r.u16(&length) || !r.bytes(length, &value)) return malformed("server_name entry length");
    if (type != 0) continue;  // unknown name types are skipped, as RFC 6066 allows
    if (!name.empty()) return malformed("two host names in server_name");
    if (value.empty() || value.size() > 255) return malformed("server_name host name length");
    if (!std::all_of(value.begin(), value.end(), host_name_byte)) return malformed("server_name has a byte no host name has");
    name.assign(value.begin(), value.end());
  }
  if (name.empty()) {
    Hello h;
    h.status = Hello::Status::no_sni;
    return h;
  }
  Hello h;
  h.status = Hello::Status::ok;
  h.server_name = std::move(name);
  return h;
}

Hello parse_hello_body(std::span<const uint8_t> body) {
  Reader r(body);
  uint16_t version;
  uint8_t session_id_length, compression_length;
  uint16_t suites_length;
  if (!r.u16(&version) || !r.skip(32)) return malformed("ClientHello shorter than its fixed fields");
  if ((version >> 8) != 3) return malformed("ClientHello version is not 3.x");
  if (!r.u8(&session_id_length) || session_id_length > 32 || !r.skip(session_id_length))
    return malformed("session id length");
  if (!r.u16(&suites_length) || suites_length < 2 || suites_length % 2 || !r.skip(suites_length))
    return malformed("cipher suites length");
  if (!r.u8(&compression_length) || compression_length < 1 || !r.skip(compression_length))
    return malformed("compression methods length");
  if (r.left() == 0) {  // SSL 3.0 / TLS 1.0 style hello without extensions
    Hello h;
    h.status = Hello::Status::no_sni;
    return h;
  }
  uint16_t extensions_length;
  if (!r.u16(&extensions_length) || extensions_length != r.left()) return malformed("extensions length");

  std::vector<uint16_t> seen;
  Hello found;
  found.status = Hello::Status::no_sni;
  bool encrypted = false;
  while (r.left() > 0) {
    uint16_t type, length;
    std::span<const uint8_t> value;
    if (!r.u16(&type) || !r.u16(&length) || !r.bytes(length, &value)) return malformed("extension length");
    // RFC 8446 4.2: no extension type twice. Two server_names would let a filter and a server
    // each read a different one.
    if (std::find(seen.begin(), seen.end(), type) != seen.end())
      return malformed("extension " + std::to_string(type) + " twice");
    seen.push_back(type);
    if (type == kEncryptedClientHello || type == kEncryptedServerName) encrypted = true;
    if (type == kServerName) {
      found = parse_server_name(value);
      if (found.status == Hello::Status::malformed) return found;
    }
  }
  if (encrypted) {
    Hello h;
    h.status = Hello::Status::encrypted;
    return h;
  }
  return found;
}

}  // namespace

Hello parse_client_hello(std::span<const uint8_t> data) {
  Hello need_more;
  // Decide "TLS or not" as soon as the first bytes allow: a handshake record of version 3.x.
  if (!data.empty() && data[0] != kHandshakeRecord) return Hello{Hello::Status::not_tls, {}, {}};
  if (data.size() >= 2 && data[1] != 3) return Hello{Hello::Status::not_tls, {}, {}};

  // Reassemble the handshake message from the records' fragments.
  std::vector<uint8_t> handshake;
  size_t at = 0;
  for (;;) {
    if (data.size() - at < kRecordHeader) {
      if (data.size() >= kMaxHello) return malformed("no complete ClientHello in the first 16 KiB");
      return need_more;
    }
    uint8_t type = data[at];
    size_t length = size_t(data[at + 3] << 8 | data[at + 4]);
    if (type != kHandshakeRecord) return malformed("a non-handshake record before the ClientHello ends");
    if (data[at + 1] != 3) return malformed("record version is not 3.x");
    if (length == 0 || length > kMaxRecord) return malformed("record length " + std::to_string(length));
    if (data.size() - at - kRecordHeader < length) {
      if (at + kRecordHeader + length > kMaxHello) return malformed("ClientHello larger than 16 KiB");
      return need_more;
    }
    handshake.insert(handshake.end(), data.begin() + long(at + kRecordHeader),
                     data.begin() + long(at + kRecordHeader + length));
    at += kRecordHeader + length;

    if (handshake.size() >= 4) {
      if (handshake[0] != kClientHello) return malformed("first handshake message is not a ClientHello");
      size_t body_length = size_t(handshake[1]) << 16 | size_t(handshake[2]) << 8 | handshake[3];
      if (body_length + 4 > kMaxHello) return malformed("ClientHello larger than 16 KiB");
      if (handshake.size() >= body_length + 4) {
        // Bytes after the hello in the same record would be another handshake message, which a
        // client may not send before the server's answer.
        if (handshake.size() > body_length + 4) return malformed("data after the ClientHello");
        return parse_hello_body(std::span(handshake).subspan(4, body_length));
      }
    }
  }
}

const char* to_string(Hello::Status status) {
  switch (status) {
    case Hello::Status::ok: return "ok";
    case Hello::Status::need_more: return "need more bytes";
    case Hello::Status::not_tls: return "not TLS";
    case Hello::Status::no_sni: return "TLS without a server name (SNI)";
    case Hello::Status::encrypted: return "TLS with an encrypted ClientHello (ECH), which hides the server name";
    case Hello::Status::malformed: return "a malformed TLS ClientHello";
  }
  return "?";
}

}  // namespace aj::net::tls
