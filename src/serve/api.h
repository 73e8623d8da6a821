// The request and response model of `agentjail serve` (man agentjail-serve(1)): what a
// POST /v1/runs body may hold, checked field by field before any jail is touched, and the JSON
// of every answer. Pure: no I/O, so unit tests and the fuzzer drive it directly.
#pragma once

#include <sys/types.h>

#include <expected>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "limits/limits.h"

namespace aj::serve {

using json = nlohmann::json;

// An answer other than 200: the status, the one line of {"error": ...}, and for 503 the
// seconds a client should wait (Retry-After).
struct ApiError {
  int status = 400;
  std::string message;
  std::optional<unsigned> retry_after;
};
template <class T>
using ApiResult = std::expected<T, ApiError>;

// The bounds of one request beyond the body cap of the HTTP layer.
struct RequestBounds {
  size_t max_command_args = 4096;
  size_t max_env = 1024;
  size_t max_files = 1024;
  uint64_t max_files_bytes = 64ull << 20;  // decoded contents of `files`, all together
  size_t max_collect = 1024;
  size_t max_path = 4096;                  // bytes of one path
};

// The policies a server was started with, by name, and what a request needs of each: its
// limits, which a request may only tighten.
using PolicyCatalog = std::map<std::string, Limits, std::less<>>;

// With --allow-client-policies: TOML text of the client's own policy -> its name and limits
// (the server loads it with path `extends` refused). Without, a client policy is a 403.
struct ClientPolicy {
  std::string name;
  Limits limits;
};
using ClientPolicyLoader = std::function<Result<ClientPolicy>(const std::string& toml)>;

// One run, as the executor receives it: every field validated.
struct RunRequest {
  std::string id;                          // the client's (checked) or one the server made
  bool client_id = false;                  // the client chose it
  std::string policy;                      // a name of the catalog, or the client policy's name
  std::optional<std::string> policy_toml;  // the client's own policy (--allow-client-policies)
  std::vector<std::string> command;        // non-empty; argv[0] non-empty; no NUL anywhere
  std::string stdin_data;                  // bytes for the command's stdin ("" = empty stdin)
  std::map<std::string, std::string> env;  // added to the policy's environment
  std::map<std::string, std::string> files;  // absolute normalized path -> contents, written before the command
  std::vector<std::string> collect;        // absolute normalized paths read back after it
  Limits limits;                           // the policy's, tightened by the request
  bool stream = false;                     // ?stream=ndjson
  uid_t caller_uid = static_cast<uid_t>(-1);  // SO_PEERCRED (unix socket) or the server's own uid (TCP)
  pid_t caller_pid = 0;                    // SO_PEERCRED; 0 over TCP
};

// A file read back for `collect`: its bytes, or nullopt when the path was missing or not a
// regular file in the jail.
using CollectedFiles = std::map<std::string, std::optional<std::string>>;

struct ParseOptions {
  const PolicyCatalog* policies = nullptr;
  std::string default_policy;              // when the body names none
  ClientPolicyLoader client_policies;      // empty: client policies refused
  RequestBounds bounds;
};

// POST /v1/runs body -> RunRequest (id empty unless the client sent one). 400 for malformed
// JSON, unknown keys (named, with a "did you mean"), wrong types and bad values; 403 for a
// client policy the server does not accept; 404 for a policy it was not started with.
ApiResult<RunRequest> parse_run_request(std::string_view body, const ParseOptions& options);

// The `limits` object of a request applied to a policy's limits. Keys and values as in the
// policy's [limits] table (sizes "64MiB" or bytes, durations "5s" or seconds); a value above
// the policy's, or "unlimited" where the policy has a limit, is an error naming both.
Result<Limits> tighten(const Limits& policy, const json& requested);

// A run id a client may choose: 1 to 64 of [A-Za-z0-9_-].
bool valid_run_id(std::string_view id);
// A path for `files` and `collect`: absolute, at most `max` bytes, no empty, "." or ".."
// component, no trailing slash, no NUL, not "/" itself. Returns the reason when not.
std::optional<std::string> path_problem(std::string_view path, size_t max);

// {"error": "..."}; newlines in the message become "; " so it stays one line.
std::string error_body(std::string_view message);
// A file's contents for the answer: a string when it is valid UTF-8, else {"base64": "..."};
// null for a file that was not there.
json file_json(const std::optional<std::string>& contents);
// The 200 answer: the report exactly as `run --json` prints it, with "caller_uid" and, beside
// the report's own keys, "files" (only when the request asked to collect).
json run_response(json report, uid_t caller_uid, const CollectedFiles& files, bool collected);
// One line of an NDJSON stream: compact JSON and '\n'.
std::string ndjson_line(const json& value);

// GET /v1/health: {"ok": true, "pools": {name: {"ready": N, "target": N}}}.
struct PoolState {
  unsigned ready = 0;
  unsigned target = 0;
  uint64_t served = 0;  // runs a pooled jail ran (metrics only)
  uint64_t cold = 0;    // runs of this policy built cold: the pool was empty or could not serve them
};
json health_body(const std::map<std::string, PoolState>& pools);

// The agent-sandbox runtime's POST /execute (kubernetes-sigs/agent-sandbox: {"command": "shell
// words"} -> {"stdout", "stderr", "exit_code"}), mapped onto a run of `sh -c COMMAND` under the
// default policy.
ApiResult<RunRequest> parse_execute_request(std::string_view body, const ParseOptions& options);
json execute_response(const json& report);

}  // namespace aj::serve
