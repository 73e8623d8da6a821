// libFuzzer target: arbitrary bytes as an HTTP request head from the jail (plain HTTP or the
// proxy), and as an allowlist entry. Beyond "no crash": an accepted head ends inside the input
// and has a method; a CONNECT has host and port; at the broker's read limit the answer is
// final; an accepted allow entry's name normalizes to itself.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "net/http_head.h"
#include "egress/rules.h"

using namespace aj::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::Head head = http::parse_request_head(std::span(data, size));
  if (head.status == http::Head::Status::ok) {
    if (head.head_length == 0 || head.head_length > size || head.head_length > http::kMaxHead) std::abort();
    if (head.method.empty()) std::abort();
    if (head.method == "CONNECT" && (!head.target_authority || !head.target_authority->port)) std::abort();
    if (head.target_authority && head.target_authority->host.empty()) std::abort();
  }
  // The broker stops reading at kMaxHead: there, "read more" would wait forever.
  if (size >= http::kMaxHead && head.status == http::Head::Status::need_more) std::abort();
  std::string_view text(reinterpret_cast<const char*>(data), std::min<size_t>(size, 300));
  auto rule = parse_rule(text);
  if (rule && rule->kind != Rule::Kind::cidr) {
    auto normal = normalize_name(rule->name);
    if (!normal || *normal != rule->name) std::abort();
    if (rule->ports.empty()) std::abort();
  }
  return 0;
}
