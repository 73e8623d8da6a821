// The executor of `agentjail serve` and `agentjail mcp`: each request runs through the pipeline
// (pipeline/pipeline.h) in a worker forked from the server, so the server's poll loop never
// waits on a jail being built and a run that crashes its worker takes only itself down. The
// policies are parsed once, at start; a worker plans, builds and supervises one jail, streams
// the kept stdout/stderr back as it comes, and ends with the collected files and the report.
//
// Worker -> server, over a pipe: frames of a type byte, a 32-bit length and the bytes:
// 'o'/'e' output, 'f' a collected file (32-bit path length, path, contents), 'm' a collected
// path that was not a regular file, 'r' the report's JSON, last. A worker that dies before
// its 'r' is reported as a setup error. Cancelling sends the worker SIGTERM, which it handles
// as `agentjail run` handles it (the report says "signal"); past the grace it is SIGKILLed,
// and its jail dies with it (the init's parent-death signal).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "host/ids.h"
#include "host/host.h"
#include "policy/load.h"
#include "serve/executor.h"

namespace aj::serve {

struct JailExecutorConfig {
  std::map<std::string, policy::Loaded> policies;  // by name
  std::map<std::string, unsigned> pools;           // --pool NAME=N: N jails of NAME kept ready
  unsigned max_jails = 4;
  std::string audit_log;                           // "" for the policies' own
  int kill_after_ms = 5000;                        // a cancelled worker still there by then is SIGKILLed
  size_t max_collected = 64u << 20;                // bytes read back per collected file
  bool verbose = false;
  host::IdRange id_range = host::kDefaultJailIds;  // run by root: each jail's host uid (AGENTJAIL_UID_RANGE)
};

class JailExecutor : public Executor {
 public:
  explicit JailExecutor(JailExecutorConfig config);
  ~JailExecutor() override;
  ApiResult<void> start(RunRequest request, RunCallbacks callbacks) override;
  void cancel(const std::string& id, CancelReason reason) override;
  void poll_fds(std::vector<pollfd>& fds) override;
  void on_ready(int fd, short revents) override;
  int next_tick_ms() override;
  void on_tick() override;
  std::map<std::string, PoolState> pools() const override;
  void begin_shutdown() override;
  bool idle() const override;

 private:
  struct Run;
  struct Pooled;
  struct PoolStats {
    unsigned target = 0;
    uint64_t served = 0, cold = 0;
    double retry_at = 0;  // monotonic ms: no new pooled jail before (after one failed)
  };
  void finish(const std::string& id);
  void refill();
  bool start_pooled(const std::string& policy);
  void pooled_event(Pooled& pooled, int fd);
  void reap_pooled();
  Pooled* take_pooled(const RunRequest& request);
  JailExecutorConfig config_;
  std::unique_ptr<host::Host> host_;  // probed once, when the server starts
  std::map<std::string, std::unique_ptr<Run>> runs_;
  std::vector<std::unique_ptr<Pooled>> pooled_;
  std::map<std::string, PoolStats> pool_stats_;
  bool shutting_down_ = false;
};

}  // namespace aj::serve
