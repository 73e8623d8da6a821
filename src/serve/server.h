// The connection layer of `agentjail serve`: listeners, one poll loop, per-connection state,
// routing, the bounded queue in front of --max-jails, and the drain on SIGTERM. It turns
// requests into RunRequests for an Executor (executor.h) and the executor's callbacks into
// answers; it never touches a jail itself.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "http/request.h"
#include "http/response.h"
#include "serve/api.h"
#include "serve/executor.h"
#include "serve/listeners.h"
#include "serve/metrics.h"

namespace aj::serve {

struct ServerConfig {
  std::string socket_path;               // required
  mode_t socket_mode = 0660;
  std::optional<gid_t> socket_group;
  std::string listen;                    // "ADDR:PORT" or "" (no TCP)
  std::string token;                     // required with `listen`
  std::vector<uid_t> allowed_uids;       // empty: whoever can connect
  unsigned max_jails = 4;
  unsigned queue = 0;                    // requests that may wait for a jail; beyond: 503
  unsigned retry_after_s = 1;            // Retry-After of that 503
  unsigned max_connections = 256;
  http::ParserLimits http;               // .max_body is --max-body
  ParseOptions parse;                    // policies, default policy, client policies, bounds
  int head_timeout_ms = 10'000;          // first byte of a request to the end of its head
  int body_timeout_ms = 30'000;          // longest pause while a body arrives
  int idle_timeout_ms = 60'000;          // keep-alive connection with no request
  int grace_ms = 10'000;                 // SIGTERM: how long running jails may finish
};

class Server {
 public:
  Server(ServerConfig config, Executor& executor);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Creates the listeners (the unix socket, and TCP with --listen).
  Status listen();
  // The poll loop until drained: `signal_fd` (a signalfd for SIGTERM/SIGINT, or -1) starts
  // the drain. Returns when every run has ended and every answer is out (or the grace is over).
  Status run(int signal_fd);
  // One round of the loop, waiting at most `timeout_ms` (for tests and run()).
  Status step(int timeout_ms);
  // Stop accepting, answer the queue 503, let runs finish for grace_ms, then cancel them.
  void begin_drain();
  bool drained() const;

  size_t connections() const { return connections_.size(); }
  size_t runs() const { return runs_.size(); }
  size_t queued() const { return queue_.size(); }
  std::string metrics_text();

 private:
  struct Connection;
  struct Run;

  void accept_from(int listen_fd, bool tcp);
  void on_readable(Connection& connection);
  void process_input(Connection& connection);
  void handle(Connection& connection, http::Request request);
  void handle_run(Connection& connection, const http::Request& request, bool execute_shape);
  void handle_delete(Connection& connection, const std::string& id);
  void admit(Connection& connection, RunRequest request);
  bool start_run(uint64_t connection_id, RunRequest request);
  void start_queued();
  void on_output(const std::string& id, Stream stream, std::string_view bytes);
  void on_done(const std::string& id, json report, CollectedFiles files);
  void answer(Connection& connection, int status, http::Headers headers, std::string body);
  void answer_error(Connection& connection, const ApiError& error);
  void finish_request(Connection& connection, int status);
  void on_writable(Connection& connection);
  // Closes and forgets a connection; a run it was waiting for is ended (nobody would read its answer).
  void close_connection(uint64_t id);
  void check_deadlines(double now);
  int next_timeout_ms(double now) const;
  Connection* find(uint64_t id);

  ServerConfig config_;
  Executor& executor_;
  Metrics metrics_;
  std::optional<UnixListener> unix_;
  sys::UniqueFd tcp_;
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::map<std::string, Run> runs_;  // started and not done, by id
  struct Waiting {
    uint64_t connection_id;
    RunRequest request;
  };
  std::deque<Waiting> queue_;
  // Cancels asked for while the executor was calling us back, issued once it has returned.
  std::vector<std::pair<std::string, CancelReason>> pending_cancels_;
  int signal_fd_ = -1;
  uint64_t next_connection_id_ = 1;
  bool draining_ = false;
  double drain_started_ = 0;
  bool drain_cancelled_ = false;
};

}  // namespace aj::serve
