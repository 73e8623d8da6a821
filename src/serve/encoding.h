// Byte encodings at the API's edge: base64 for file contents that are not text, UTF-8 checks,
// and cutting a stream of output into NDJSON lines without splitting a character.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace aj::serve {

// RFC 4648 base64, standard alphabet, with padding.
std::string base64_encode(std::string_view bytes);
// Strict decoding: standard alphabet only, padding optional but never in the middle, no
// whitespace, no stray bits in the last character. nullopt when `text` is not base64.
std::optional<std::string> base64_decode(std::string_view text);

// True when `bytes` is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool is_utf8(std::string_view bytes);

// Output arrives in pieces that may end inside a UTF-8 sequence. push() returns the part of
// what has arrived that can be sent now as text (invalid bytes replaced by U+FFFD, as run
// --json does) and keeps back an unfinished sequence at the end (at most 3 bytes) for the next
// piece; finish() returns what is left.
class Utf8Stream {
 public:
  std::string push(std::string_view bytes);
  std::string finish();

 private:
  std::string carry_;
};

}  // namespace aj::serve
