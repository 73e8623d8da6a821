// The stdio transport of MCP: newline-delimited JSON-RPC messages on stdin and stdout (nothing
// else is ever written to stdout; agentjail's own messages go to stderr).
#pragma once

#include <cstddef>

#include "base/error.h"
#include "mcp/session.h"

namespace aj::mcp {

// Reads messages from `in_fd` and hands them to `session` until the client closes stdin or
// `signal_fd` (a signalfd, or -1) fires; then ends the runs still going, sends their answers
// and returns. Lines longer than `max_line` bytes are skipped and answered with a parse error.
Status serve_stdio(Session& session, serve::Executor& executor, int in_fd, int signal_fd, size_t max_line);

}  // namespace aj::mcp
