#include "serve/encoding.h"

#include <array>
#include <cstdint>

#include "report/report.h"

namespace aj::serve {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> decode_table() {
  std::array<int8_t, 256> table{};
  for (auto& entry : table) entry = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr auto kDecode = decode_table();

// Length of the UTF-8 sequence a lead byte starts (0: not a lead byte).
size_t sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 0;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (size_t rest = bytes.size() - i) {
    uint32_t v = at(i) << 16 | (rest == 2 ? at(i + 1) << 8 : 0);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += rest == 2 ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  size_t padding = 0;
  while (padding < 2 && !text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++padding;
  }
  if (text.size() % 4 == 1) return std::nullopt;
  if (padding > 0 && (text.size() + padding) % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int8_t v = kDecode[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    buffer = buffer << 6 | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(buffer >> bits & 0xFF);
    }
  }
  // The bits left over must be zero: otherwise two texts would decode to the same bytes.
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

bool is_utf8(std::string_view bytes) {
  // sanitize_utf8 replaces every invalid byte; the input was valid exactly when nothing
  // changed, which a replacement character already in the input cannot fake (it is kept as is).
  for (unsigned char c : bytes)
    if (c >= 0x80) return report::sanitize_utf8(bytes) == bytes;
  return true;
}

std::string Utf8Stream::push(std::string_view bytes) {
  std::string data = std::move(carry_);
  carry_.clear();
  data.append(bytes);
  // Keep back a sequence that the end of `data` cuts short: a lead byte in the last three
  // bytes whose sequence would run past the end.
  size_t keep_from = data.size();
  for (size_t back = 1; back <= 3 && back <= data.size(); ++back) {
    unsigned char c = static_cast<unsigned char>(data[data.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    size_t length = sequence_length(c);
    if (length > back) keep_from = data.size() - back;
    break;
  }
  carry_ = data.substr(keep_from);
  data.resize(keep_from);
  return report::sanitize_utf8(data);
}

std::string Utf8Stream::finish() {
  std::string rest = std::move(carry_);
  carry_.clear();
  return report::sanitize_utf8(rest);
}

}  // namespace aj::serve
