// libFuzzer target: arbitrary bytes as a pooled request, the CBOR message `agentjail serve`
// hands the worker that holds a warm jail (src/serve/pool.h). Beyond "no crash, no sanitizer
// report" (a float where a count belongs once reached an undefined cast), every accepted
// request must hold what the worker passes to execve and the limits unchanged:
//   * a non-empty command, argv[0] non-empty, no NUL in any argument or environment entry,
//     environment names non-empty and without '=';
//   * encoding it and decoding that again gives the same request (nothing lost or invented).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "serve/pool.h"

namespace {

[[noreturn]] void broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "pool_fuzz: %s\n%.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool same(const aj::serve::RunRequest& a, const aj::serve::RunRequest& b) {
  const aj::Limits &x = a.limits, &y = b.limits;
  const bool cpus_same = x.cpus == y.cpus || (x.cpus && y.cpus && *x.cpus != *x.cpus && *y.cpus != *y.cpus);  // NaN
  return a.id == b.id && a.policy == b.policy && a.command == b.command && a.stdin_data == b.stdin_data &&
         a.env == b.env && x.wall_time_ms == y.wall_time_ms && x.cpu_time_ms == y.cpu_time_ms &&
         x.memory_bytes == y.memory_bytes && x.pids == y.pids && cpus_same && x.file_size_bytes == y.file_size_bytes &&
         x.open_files == y.open_files && x.stack_bytes == y.stack_bytes && x.core_size_bytes == y.core_size_bytes &&
         x.output_bytes == y.output_bytes && a.caller_uid == b.caller_uid && a.caller_pid == b.caller_pid;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aj::serve;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto request = decode_pooled_request(bytes);
  if (!request) {
    if (request.error().what().empty()) broken("refusal without a message", bytes);
    return 0;
  }
  if (request->command.empty() || request->command[0].empty()) broken("empty command accepted", bytes);
  for (const std::string& word : request->command)
    if (word.find('\0') != std::string::npos) broken("NUL in the command accepted", bytes);
  for (const auto& [name, value] : request->env)
    if (name.empty() || name.find_first_of(std::string_view("=\0", 2)) != std::string::npos ||
        value.find('\0') != std::string::npos)
      broken("bad environment entry accepted", name);
  auto again = decode_pooled_request(encode_pooled_request(*request));
  if (!again) broken("its own encoding refused", again.error().what());
  if (!same(*request, *again)) broken("the round trip changed the request", bytes);
  return 0;
}
