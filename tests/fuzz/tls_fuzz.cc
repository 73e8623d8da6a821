// libFuzzer target: arbitrary bytes as the first bytes of a TLS connection from the jail.
// Beyond "no crash": the broker decides on whatever prefix it has read so far, so a verdict on
// a prefix must be the verdict on every longer input (a final answer never changes when more
// bytes arrive, and an accepted name never becomes another), and a found name is a plausible
// host name, and at the broker's read limit (kMaxHello) the answer is final. A complete hello
// followed by more bytes (the client's next records) is accepted as the hello alone.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "net/tls.h"

using namespace aj::net::tls;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  Hello whole = parse_client_hello(bytes);
  if (whole.status == Hello::Status::ok && (whole.server_name.empty() || whole.server_name.size() > 255))
    std::abort();
  if (whole.status == Hello::Status::malformed && whole.problem.empty()) std::abort();
  // The broker stops reading at kMaxHello: there, "read more" would wait forever.
  if (size >= kMaxHello && whole.status == Hello::Status::need_more) std::abort();
  for (size_t cut : {size / 2, size - size / 4}) {
    Hello prefix = parse_client_hello(bytes.first(cut));
    if (prefix.status == Hello::Status::need_more) continue;
    if (prefix.status != whole.status) std::abort();
    if (prefix.server_name != whole.server_name) std::abort();
  }
  return 0;
}
