// libFuzzer target: arbitrary bytes as what a client sends to `agentjail serve`. The first byte
// picks the size of the pieces the rest is fed in (as reads from a socket would cut it), and
// the input is also fed whole. Beyond "no crash, no sanitizer report", it checks the parser's
// contract on every input:
//   * feed() never claims more bytes than it was given, and always makes progress or stops;
//   * every complete request is within the caps (target, header count, body);
//   * a refusal has a 4xx or 5xx status and a one-line message;
//   * feeding in pieces and feeding whole give the same requests, and both refuse or neither:
//     what is served never depends on how the kernel split the stream. (The status of a refusal
//     may: http-parser hands a token to its callback when the token ends or the bytes do, so a
//     cap on a token and a bad byte later in it can be met in either order.)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"

namespace {

using aj::http::ParserLimits;
using aj::http::Request;
using aj::http::RequestParser;
using State = RequestParser::State;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "http_fuzz: %s\n", what);
  std::abort();
}

constexpr ParserLimits kLimits{.max_head = 2048, .max_headers = 16, .max_target = 256, .max_body = 4096};

std::string describe(const Request& request) {
  std::string out = request.method + " " + request.target + " " + request.path + "?" + request.query +
                    (request.keep_alive ? " keep" : " close") + "\n";
  for (const auto& [name, value] : request.headers) out += name + ": " + value + "\n";
  return out + std::to_string(request.body.size()) + ":" + request.body;
}

// Every request the stream holds, then "error STATUS" or "end"; pieces of `step` bytes.
std::vector<std::string> parse_all(std::string_view wire, size_t step) {
  RequestParser parser(kLimits);
  std::vector<std::string> out;
  std::string pending;  // bytes given to the parser but not consumed yet, as a server keeps them
  size_t offset = 0;
  for (;;) {
    if (pending.empty()) {
      if (offset >= wire.size()) break;
      pending.assign(wire.substr(offset, step));
      offset += pending.size();
    }
    auto fed = parser.feed(pending);
    if (fed.consumed > pending.size()) broken("consumed more than it was given");
    pending.erase(0, fed.consumed);
    if (fed.state == State::error) {
      const auto& error = parser.error();
      if (error.status < 400 || error.status > 599) broken("refusal without an error status");
      if (error.message.empty() || error.message.find('\n') != std::string::npos) broken("refusal message not one line");
      out.push_back("error");
      return out;
    }
    if (fed.state == State::complete) {
      Request request = parser.take();
      if (request.target.size() > kLimits.max_target) broken("target over the cap");
      if (request.headers.size() > kLimits.max_headers) broken("header count over the cap");
      if (request.body.size() > kLimits.max_body) broken("body over the cap");
      if (request.path.size() > request.target.size()) broken("path longer than the target");
      bool keep = request.keep_alive;
      out.push_back(describe(request));
      if (!keep) return out;  // the server closes here; what follows is never read
      continue;
    }
    if (fed.consumed == 0 && !pending.empty()) broken("no progress on fresh bytes");
  }
  auto end = parser.finish();
  out.push_back(end.state == State::error ? "error" : "end");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 64;
  const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto whole = parse_all(wire, wire.size() + 1);
  const auto pieces = parse_all(wire, step);
  if (whole != pieces) {
    for (const auto& [name, parse] : {std::pair{"whole", &whole}, std::pair{"pieces", &pieces}})
      for (const std::string& line : *parse) std::fprintf(stderr, "%s: %s\n", name, line.c_str());
    broken("piecewise and whole parses differ");
  }
  return 0;
}
