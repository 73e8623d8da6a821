// libFuzzer target: arbitrary bytes as the body of POST /v1/runs. Beyond "no crash, no
// sanitizer report", it checks the request model's contract on every input:
//   * a refusal has one of the statuses the API documents and a one-line message, and its
//     {"error": ...} body is valid JSON;
//   * an accepted request holds only what the checks promise: a non-empty command without NUL
//     bytes, absolute normalized paths, limits no higher than the policy's, a valid id;
//   * the answer built from it (run_response) serializes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "serve/api.h"

namespace {

[[noreturn]] void broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "api_fuzz: %s\n%.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool at_most(const std::optional<uint64_t>& value, const std::optional<uint64_t>& limit) {
  return !limit || (value && *value <= *limit);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aj::serve;
  static const PolicyCatalog catalog = {{"default", aj::Limits{}}, {"python", aj::Limits{}}};
  ParseOptions options;
  options.policies = &catalog;
  options.default_policy = "default";
  options.bounds.max_files = 8;
  options.bounds.max_files_bytes = 4096;
  options.client_policies = [](const std::string& toml) -> aj::Result<ClientPolicy> {
    if (toml.empty()) return aj::fail(0, "empty policy");
    return ClientPolicy{"client", aj::Limits{}};
  };
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto request = parse_run_request(body, options);
  if (!request) {
    const ApiError& error = request.error();
    if (error.status != 400 && error.status != 403 && error.status != 404 && error.status != 413)
      broken("undocumented status", error.message);
    if (error.message.empty() || error.message.find('\n') != std::string::npos) broken("message not one line", error.message);
    if (!json::accept(error_body(error.message))) broken("error body is not JSON", error.message);
    return 0;
  }
  const aj::Limits policy;
  if (request->command.empty() || request->command[0].empty()) broken("empty command", body);
  for (const std::string& word : request->command)
    if (word.find('\0') != std::string::npos) broken("NUL in the command", body);
  for (const auto& [path, contents] : request->files)
    if (path_problem(path, options.bounds.max_path)) broken("bad file path accepted", path);
  for (const std::string& path : request->collect)
    if (path_problem(path, options.bounds.max_path)) broken("bad collect path accepted", path);
  if (request->client_id && !valid_run_id(request->id)) broken("bad id accepted", request->id);
  const aj::Limits& limits = request->limits;
  if (!at_most(limits.wall_time_ms, policy.wall_time_ms) || !at_most(limits.cpu_time_ms, policy.cpu_time_ms) ||
      !at_most(limits.memory_bytes, policy.memory_bytes) || !at_most(limits.pids, policy.pids) ||
      !at_most(limits.open_files, policy.open_files) || !at_most(limits.stack_bytes, policy.stack_bytes) ||
      !at_most(limits.file_size_bytes, policy.file_size_bytes) || limits.output_bytes > policy.output_bytes ||
      limits.core_size_bytes > policy.core_size_bytes)
    broken("limits above the policy's accepted", body);
  CollectedFiles files;
  for (const std::string& path : request->collect) files[path] = request->stdin_data;
  (void)run_response(json{{"status", "ok"}}, 0, files, true).dump(-1, ' ', false, json::error_handler_t::replace);
  return 0;
}
