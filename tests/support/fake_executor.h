// An Executor without jails, for testing the server, `agentjail mcp` and the clients: each
// "command" is a script the fake acts out, answered with a report of the real model (the JSON
// `run --json` prints), so everything above the executor runs as it will with real jails.
//
//   echo WORDS...      stdout "WORDS\n", exit 0
//   cat                stdout = the request's stdin
//   fail N             exit N (status "exit")
//   sleep SECONDS      ends after SECONDS; a cancel ends it with SIGKILL (status "signal")
//   spew BYTES         BYTES of "é" (two bytes each) on stdout in pieces of 7, cutting characters
//   stderr WORDS...    WORDS on stderr, exit 0
//   setup_error        a setup_error report with "error"
//   busy               start() refuses with 503 (as when no jail can be had)
//   env NAME           stdout = the value of NAME in the request's env
//   anything else      exit 127, as a command that is not found
//
// Collected files: a path the request also wrote comes back with its contents; "/missing*"
// comes back null; any other path comes back as the text "collected PATH".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "serve/executor.h"

namespace aj::test {

class FakeExecutor : public serve::Executor {
 public:
  FakeExecutor();
  ~FakeExecutor() override;
  serve::ApiResult<void> start(serve::RunRequest request, serve::RunCallbacks callbacks) override;
  void cancel(const std::string& id, serve::CancelReason reason) override;
  void poll_fds(std::vector<pollfd>& fds) override;
  void on_ready(int fd, short revents) override;
  int next_tick_ms() override;
  void on_tick() override;
  std::map<std::string, serve::PoolState> pools() const override;
  void begin_shutdown() override { shutting_down_ = true; }
  bool idle() const override { return runs_.empty(); }

  // What the tests look at.
  size_t running() const { return runs_.size(); }
  std::vector<serve::RunRequest> started;            // every request start() accepted, in order
  std::vector<std::pair<std::string, serve::CancelReason>> cancels;
  std::map<std::string, serve::PoolState> pool_state = {{"default", {2, 2}}};

 private:
  struct Run {
    serve::RunRequest request;
    serve::RunCallbacks callbacks;
    double due = 0;          // monotonic ms when it ends on its own
    double started = 0;
    bool cancelled = false;
    std::string spew;        // bytes still to stream
  };
  void finish(Run& run);
  std::map<std::string, Run> runs_;
  int wake_fd_ = -1;         // an eventfd, so poll_fds has something real to poll
  bool shutting_down_ = false;
};

}  // namespace aj::test
