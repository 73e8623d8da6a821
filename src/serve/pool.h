// The warm pool's decisions and wire format, pure so that unit tests drive them: which requests
// a pooled jail can serve (the rest are built cold), and how a request reaches the worker that
// holds the jail (agentjail-serve(1), "The warm pool").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "limits/limits.h"
#include "serve/api.h"

namespace aj::serve {

// Why `request` must be built cold although its policy has a pool, or nullopt when a pooled
// jail of that policy (whose limits are `policy_limits`) can run it. A pooled jail was built
// with the policy's mounts and cgroup: it cannot take `files` or `collect` (they need a
// scratch directory bound before the root is entered), nor memory, pids or cpus other than
// the policy's (written into its cgroup when it was made), nor a client's own policy. What it
// can take: the command, stdin, env, and the limits the command child or the supervisor apply
// (wall_time, cpu_time, file_size, open_files, stack, core_size, output).
std::optional<std::string> pool_refusal(const RunRequest& request, const Limits& policy_limits);

// A request as the server hands it to a pooled worker (CBOR; stdin as a byte string), and
// back. Only the fields a pooled run uses: id, policy, command, stdin, env, limits, caller.
std::string encode_pooled_request(const RunRequest& request);
Result<RunRequest> decode_pooled_request(std::string_view bytes);

}  // namespace aj::serve
