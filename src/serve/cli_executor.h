// An Executor that runs each request as its own `agentjail run --json` process: every jail is
// built cold, exactly as the CLI builds it, and the report is the one the CLI prints. It has
// no warm pool (pools() reports ready 0) and no output stream (run --json captures; a stream
// gets its id and its report). The forked-worker executor with warm jails replaces it; until
// then it makes `agentjail serve` and `agentjail mcp` do real work.
//
// files and collect: one private scratch directory per run, holding a directory for each
// top-level directory the paths name, bound read-write there (`run --rw`); collected files are
// read back without following any symlink the jail made, and the scratch is removed.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "serve/executor.h"

namespace aj::serve {

struct CliPolicy {
  std::string spec;                // what `run --policy` takes: a built-in name or the file's path
  Limits limits;                   // the policy's, to tell which of a request's limits differ
  uint32_t host_user = 65534;      // who owns the scratch files when agentjail runs as root
  uint32_t host_group = 65534;
};

struct CliExecutorConfig {
  std::string agentjail = "/proc/self/exe";
  std::map<std::string, CliPolicy> policies;  // by name
  std::map<std::string, unsigned> pools;      // reported with ready 0
  unsigned max_jails = 4;
  std::string audit_log;
  int kill_after_ms = 5000;                   // a cancelled run that has not ended by then is SIGKILLed
  size_t max_collected = 64u << 20;           // bytes read back per collected file
};

class CliExecutor : public Executor {
 public:
  explicit CliExecutor(CliExecutorConfig config);
  ~CliExecutor() override;
  ApiResult<void> start(RunRequest request, RunCallbacks callbacks) override;
  void cancel(const std::string& id, CancelReason reason) override;
  void poll_fds(std::vector<pollfd>& fds) override;
  void on_ready(int fd, short revents) override;
  int next_tick_ms() override;
  void on_tick() override;
  std::map<std::string, PoolState> pools() const override;
  void begin_shutdown() override { shutting_down_ = true; }
  bool idle() const override { return runs_.empty(); }

 private:
  struct Run;
  void finish(const std::string& id);
  CliExecutorConfig config_;
  std::map<std::string, std::unique_ptr<Run>> runs_;
  bool shutting_down_ = false;
};

}  // namespace aj::serve
