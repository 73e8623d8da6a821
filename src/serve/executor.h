// What the server asks of whatever builds and runs the jails: start a validated run, end one
// early, and take part in the server's poll loop. The server (server.h) and `agentjail mcp`
// (mcp/) talk only to this interface; the jail side (forked workers, the warm pool) implements it.
//
// Threading: none. Everything happens on the server's one thread, inside its poll loop: the
// executor's descriptors are polled with the server's own, and the executor calls a run's
// callbacks only from on_ready() or on_tick(), never from start() or cancel(), so the server
// is never re-entered while it is changing its own state.
#pragma once

#include <poll.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "serve/api.h"

namespace aj::serve {

enum class Stream { out, err };

struct RunCallbacks {
  // Output of the command as it arrives (any cut, any bytes); the server sends it on for
  // ?stream=ndjson and ignores it otherwise. At most the run's limits.output bytes per stream.
  std::function<void(Stream stream, std::string_view bytes)> on_output;
  // Exactly once per started run, the last call for it: the report as `run --json` prints it
  // (stdout/stderr captured, setup_error with "error" when the jail could not be built) and
  // the files named in `collect`.
  std::function<void(json report, CollectedFiles files)> on_done;
};

// Why a run is ended early, which decides what its report says.
enum class CancelReason {
  deleted,      // DELETE /v1/runs/ID: as for SIGTERM, status "signal" (or "timeout" past the grace)
  disconnected, // the client closed its connection: nobody reads the answer; end it now
  shutdown,     // SIGTERM of the server: end it within the grace period
};

class Executor {
 public:
  virtual ~Executor() = default;

  // Starts `request` (its id already unique among running ones). A run that cannot be started
  // at all returns its error (503 with retry_after when no jail can be had now) and no
  // callback ever comes; otherwise on_done follows, later, from on_ready()/on_tick().
  virtual ApiResult<void> start(RunRequest request, RunCallbacks callbacks) = 0;
  // Ends a running run early; its on_done still comes. An id that is not running: nothing.
  virtual void cancel(const std::string& id, CancelReason reason) = 0;

  // Appends the descriptors the executor wants polled (fd, events).
  virtual void poll_fds(std::vector<pollfd>& fds) = 0;
  // One of those descriptors has events (revents as poll returned them).
  virtual void on_ready(int fd, short revents) = 0;
  // The longest the server may sleep in poll() before it calls on_tick(); -1 for no limit.
  virtual int next_tick_ms() = 0;
  // Called after every round of the poll loop, ready descriptors or not: timers are checked here.
  virtual void on_tick() = 0;

  // The warm pools for /v1/health and the pool gauges: ready and wanted jails by policy name.
  virtual std::map<std::string, PoolState> pools() const = 0;
  // The server drains (SIGTERM): build no more jails; running ones are cancelled by the server.
  virtual void begin_shutdown() = 0;
  // True when nothing is left: no run, no pooled jail, no worker or cgroup.
  virtual bool idle() const = 0;
};

}  // namespace aj::serve
