#include "serve/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "http/response.h"
#include "report/report.h"
#include "serve/access.h"
#include "serve/encoding.h"
#include "sys/process.h"

namespace aj::serve {
namespace {

constexpr size_t kReadSize = 64 * 1024;
constexpr size_t kPipelineOutputLimit = 1u << 20;  // answers queued before pipelined requests wait
constexpr double kLingerMs = 2000;                 // reading what a closing client still sends
constexpr double kDrainCloseMs = 5000;             // after the grace: answers still going out

const http::Headers kJson = {{"Content-Type", "application/json"}};

// A fixed label per route, so a client cannot grow the metrics with paths of its own.
std::string route_label(const http::Request& request) {
  const std::string& path = request.path;
  std::string route = path == "/v1/runs" || path == "/v1/health" || path == "/v1/metrics" || path == "/execute" || path == "/"
                          ? path
                      : path.starts_with("/v1/runs/") ? std::string("/v1/runs/ID")
                                                      : std::string("other");
  std::string method = request.method;
  if (method != "GET" && method != "HEAD" && method != "POST" && method != "DELETE") method = "other";
  return method + " " + route;
}

}  // namespace

struct Server::Connection {
  enum class Phase { reading, waiting, closing };

  uint64_t id = 0;
  sys::UniqueFd fd;
  bool tcp = false;
  Peer peer;
  http::RequestParser parser;
  std::string input;  // read and not yet parsed: the rest of a read after a complete request
  http::WriteQueue output;
  Phase phase = Phase::reading;
  bool refused = false;      // its uid is not allowed: every request gets 403

  // The request being answered.
  std::string route;
  bool keep_alive = true;
  bool head_only = false;
  double request_started = 0;
  std::string run_id;        // the run (or queue place) this connection waits for
  bool stream = false;
  bool stream_started = false;
  bool execute_shape = false;
  Utf8Stream out_text, err_text;

  double first_byte = 0;     // of the request in progress (0: none)
  double last_activity = 0;
  double closing_deadline = 0;
  bool write_shut = false;

  Connection(http::ParserLimits limits) : parser(limits) {}
  void reset_request() {
    route.clear();
    head_only = stream = stream_started = execute_shape = false;
    run_id.clear();
    out_text = Utf8Stream{};
    err_text = Utf8Stream{};
    first_byte = 0;
  }
};

struct Server::Run {
  uint64_t connection_id = 0;  // 0 once its client has gone
  uid_t caller_uid = 0;
  bool collected = false;
};

Server::Server(ServerConfig config, Executor& executor)
    : config_(std::move(config)), executor_(executor), metrics_(server_metrics()) {}

Server::~Server() {
  if (unix_) remove_socket_file(*unix_);
}

Status Server::listen() {
  if (config_.socket_path.empty()) return fail(EINVAL, "--socket PATH is required");
  if (!config_.listen.empty() && config_.token.empty()) return fail(EINVAL, "--listen needs --token-file");
  auto unix_listener = listen_unix(config_.socket_path, config_.socket_mode, config_.socket_group);
  if (!unix_listener) return std::unexpected(unix_listener.error());
  unix_ = std::move(*unix_listener);
  if (!config_.listen.empty()) {
    auto tcp = listen_tcp(config_.listen);
    if (!tcp) return std::unexpected(tcp.error());
    tcp_ = std::move(*tcp);
  }
  return {};
}

Server::Connection* Server::find(uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

void Server::accept_from(int listen_fd, bool tcp) {
  // A few per round, so one busy listener cannot starve the connections already open.
  for (int i = 0; i < 64 && connections_.size() < config_.max_connections; ++i) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        spdlog::warn("accept: {}", errno_text(errno));
      return;
    }
    auto connection = std::make_unique<Connection>(config_.http);
    connection->id = next_connection_id_++;
    connection->fd.reset(fd);
    connection->tcp = tcp;
    connection->last_activity = sys::monotonic_ms();
    if (tcp) {
      // The token is the caller's identity over TCP: runs count as the server's own user's.
      connection->peer = Peer{::geteuid(), ::getegid(), 0};
    } else if (auto peer = peer_credentials(fd)) {
      connection->peer = *peer;
      if (!uid_allowed(peer->uid, config_.allowed_uids)) {
        connection->refused = true;
        metrics_.add("agentjail_requests_refused_total", {{"reason", "uid"}});
        spdlog::warn("refused a connection from uid {} (pid {}): not in --allow-uid", peer->uid, peer->pid);
      }
    } else {
      spdlog::warn("{}", peer.error().what());
      continue;  // closes it: a caller we cannot name is not served
    }
    connections_.emplace(connection->id, std::move(connection));
  }
}

void Server::on_readable(Connection& connection) {
  char buffer[kReadSize];
  for (int reads = 0; reads < 4; ++reads) {
    ssize_t n = ::recv(connection.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      close_connection(connection.id);
      return;
    }
    if (n == 0) {
      // The client is done sending: between requests a goodbye, in the middle of one or of its
      // run nobody is left to answer (HTTP/1.1 clients do not half-close while they wait).
      close_connection(connection.id);
      return;
    }
    connection.last_activity = sys::monotonic_ms();
    if (connection.phase == Connection::Phase::closing) continue;  // read and dropped
    connection.input.append(buffer, static_cast<size_t>(n));
    if (connection.input.size() >= kReadSize) break;
  }
  process_input(connection);
}

void Server::process_input(Connection& connection) {
  const uint64_t id = connection.id;
  while (connection.phase == Connection::Phase::reading && !connection.input.empty() &&
         connection.output.pending() < kPipelineOutputLimit) {
    if (!connection.parser.in_request() && connection.first_byte == 0) connection.first_byte = sys::monotonic_ms();
    auto fed = connection.parser.feed(connection.input);
    connection.input.erase(0, fed.consumed);
    if (connection.parser.take_continue()) connection.output.push("HTTP/1.1 100 Continue\r\n\r\n");
    if (fed.state == http::RequestParser::State::error) {
      const auto& error = connection.parser.error();
      connection.route = "other";
      connection.keep_alive = false;  // the framing is lost
      connection.request_started = sys::monotonic_ms();
      connection.input.clear();
      answer_error(connection, ApiError{error.status, error.message, std::nullopt});
      return;
    }
    if (fed.state != http::RequestParser::State::complete) break;
    try {
      handle(connection, connection.parser.take());
    } catch (const std::exception& e) {
      // Every input is checked before use; this is the net under a check that was missed, so
      // one request can never stop the server.
      spdlog::error("{}: {}", connection.route, e.what());
      if (!find(id)) return;
      if (connection.phase == Connection::Phase::waiting && connection.run_id.empty()) {
        connection.keep_alive = false;
        answer_error(connection, ApiError{500, "internal error", std::nullopt});
      }
    }
    if (!find(id)) return;  // closed while answering
  }
}

void Server::answer(Connection& connection, int status, http::Headers headers, std::string body) {
  http::Response response{status, std::move(headers), std::move(body)};
  if (draining_) connection.keep_alive = false;
  connection.output.push(http::serialize(response, connection.keep_alive, connection.head_only));
  finish_request(connection, status);
}

void Server::answer_error(Connection& connection, const ApiError& error) {
  http::Headers headers = kJson;
  if (error.retry_after) headers.emplace_back("Retry-After", std::to_string(*error.retry_after));
  if (error.status == 401) headers.emplace_back("WWW-Authenticate", "Bearer");
  if (connection.stream_started) {
    // The 200 head of the stream is out: the error becomes its last line.
    connection.output.push(http::chunk(ndjson_line(json{{"error", error.message}, {"status", error.status}})));
    connection.output.push(http::last_chunk());
    finish_request(connection, 200);
    return;
  }
  answer(connection, error.status, std::move(headers), error_body(error.message));
}

void Server::finish_request(Connection& connection, int status) {
  double now = sys::monotonic_ms();
  metrics_.add("agentjail_requests_total", {{"route", connection.route}, {"code", std::to_string(status)}});
  metrics_.observe("agentjail_request_duration_seconds", {{"route", connection.route}},
                   (now - connection.request_started) / 1000.0);
  connection.reset_request();
  connection.last_activity = now;
  if (!connection.keep_alive || draining_) {
    connection.phase = Connection::Phase::closing;
    connection.closing_deadline = now + kLingerMs;
    connection.input.clear();
  } else {
    connection.phase = Connection::Phase::reading;
  }
}

void Server::handle(Connection& connection, http::Request request) {
  connection.keep_alive = request.keep_alive && !draining_;
  connection.route = route_label(request);
  connection.request_started = sys::monotonic_ms();
  connection.phase = Connection::Phase::waiting;
  connection.first_byte = 0;
  connection.head_only = request.method == "HEAD";
  spdlog::debug("uid {}: {} {}", connection.peer.uid, request.method, request.target);

  if (connection.refused) {
    connection.keep_alive = false;
    answer_error(connection, ApiError{403, fmt::format("uid {} may not use this server (--allow-uid)", connection.peer.uid), std::nullopt});
    return;
  }
  if (connection.tcp && !bearer_matches(request.header("authorization"), config_.token)) {
    metrics_.add("agentjail_requests_refused_total", {{"reason", "token"}});
    spdlog::warn("refused a TCP request without the right bearer token");
    answer_error(connection, ApiError{401, "a bearer token is required (Authorization: Bearer TOKEN)", std::nullopt});
    return;
  }

  const std::string& path = request.path;
  const std::string& method = request.method;
  auto only = [&](std::initializer_list<const char*> allowed) {
    for (const char* m : allowed)
      if (method == m) return true;
    std::string list;
    for (const char* m : allowed) list += (list.empty() ? "" : ", ") + std::string(m);
    http::Headers headers = kJson;
    headers.emplace_back("Allow", list);
    answer(connection, 405, std::move(headers), error_body(fmt::format("{} takes {}", path, list)));
    return false;
  };

  if (path == "/v1/health" || path == "/") {
    if (!only({"GET", "HEAD"})) return;
    json body = path == "/" ? json{{"status", "ok"}, {"message", "agentjail serve"}} : health_body(executor_.pools());
    answer(connection, 200, kJson, body.dump() + "\n");
  } else if (path == "/v1/metrics") {
    if (!only({"GET", "HEAD"})) return;
    answer(connection, 200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}, metrics_text());
  } else if (path == "/v1/runs") {
    if (!only({"POST"})) return;
    handle_run(connection, request, false);
  } else if (path == "/execute") {
    if (!only({"POST"})) return;
    handle_run(connection, request, true);
  } else if (path.starts_with("/v1/runs/")) {
    if (!only({"DELETE"})) return;
    handle_delete(connection, path.substr(std::string_view("/v1/runs/").size()));
  } else {
    answer_error(connection, ApiError{404, "no such endpoint: " + path, std::nullopt});
  }
}

void Server::handle_run(Connection& connection, const http::Request& request, bool execute_shape) {
  auto parsed = execute_shape ? parse_execute_request(request.body, config_.parse)
                              : parse_run_request(request.body, config_.parse);
  if (!parsed) {
    metrics_.add("agentjail_requests_refused_total", {{"reason", std::to_string(parsed.error().status)}});
    answer_error(connection, parsed.error());
    return;
  }
  if (!execute_shape) {
    if (auto stream = request.query_param("stream")) {
      if (*stream != "ndjson") {
        answer_error(connection, ApiError{400, "stream must be \"ndjson\"", std::nullopt});
        return;
      }
      parsed->stream = true;
    }
  }
  parsed->caller_uid = connection.peer.uid;
  parsed->caller_pid = connection.peer.pid;
  connection.execute_shape = execute_shape;
  connection.stream = parsed->stream;
  admit(connection, std::move(*parsed));
}

void Server::admit(Connection& connection, RunRequest request) {
  if (request.id.empty()) request.id = report::new_run_id();
  const bool taken = runs_.contains(request.id) ||
                     std::any_of(queue_.begin(), queue_.end(), [&](const Waiting& w) { return w.request.id == request.id; });
  if (taken) {
    answer_error(connection, ApiError{409, "a run with id " + request.id + " is already running", std::nullopt});
    return;
  }
  if (draining_) {
    answer_error(connection, ApiError{503, "the server is shutting down", config_.retry_after_s});
    return;
  }
  connection.run_id = request.id;
  if (runs_.size() < config_.max_jails) {
    start_run(connection.id, std::move(request));
    return;
  }
  if (queue_.size() >= config_.queue) {
    metrics_.add("agentjail_requests_refused_total", {{"reason", "busy"}});
    connection.run_id.clear();
    answer_error(connection, ApiError{503, fmt::format("all {} jails are busy and {} requests wait", config_.max_jails, queue_.size()),
                                      config_.retry_after_s});
    return;
  }
  if (connection.stream) {
    connection.output.push(http::chunked_head(200, {{"Content-Type", "application/x-ndjson"}}, connection.keep_alive));
    connection.output.push(http::chunk(ndjson_line(json{{"id", request.id}})));
    connection.stream_started = true;
  }
  queue_.push_back(Waiting{connection.id, std::move(request)});
}

bool Server::start_run(uint64_t connection_id, RunRequest request) {
  Connection* connection = find(connection_id);
  const std::string id = request.id;
  Run run{connection_id, request.caller_uid, !request.collect.empty()};
  RunCallbacks callbacks;
  callbacks.on_output = [this, id](Stream stream, std::string_view bytes) { on_output(id, stream, bytes); };
  callbacks.on_done = [this, id](json report, CollectedFiles files) { on_done(id, std::move(report), std::move(files)); };
  runs_.emplace(id, run);
  auto started = executor_.start(std::move(request), std::move(callbacks));
  if (!started) {
    runs_.erase(id);
    if (connection) {
      connection->run_id.clear();
      answer_error(*connection, started.error());
    }
    return false;
  }
  if (connection && connection->stream && !connection->stream_started) {
    connection->output.push(http::chunked_head(200, {{"Content-Type", "application/x-ndjson"}}, connection->keep_alive));
    connection->output.push(http::chunk(ndjson_line(json{{"id", id}})));
    connection->stream_started = true;
  }
  return true;
}

void Server::start_queued() {
  while (!queue_.empty() && runs_.size() < config_.max_jails && !draining_) {
    Waiting next = std::move(queue_.front());
    queue_.pop_front();
    start_run(next.connection_id, std::move(next.request));
  }
}

void Server::on_output(const std::string& id, Stream stream, std::string_view bytes) {
  auto run = runs_.find(id);
  if (run == runs_.end()) return;
  Connection* connection = find(run->second.connection_id);
  if (!connection || !connection->stream || connection->run_id != id) return;
  Utf8Stream& text = stream == Stream::out ? connection->out_text : connection->err_text;
  std::string piece = text.push(bytes);
  if (piece.empty()) return;
  connection->output.push(http::chunk(ndjson_line(json{{stream == Stream::out ? "stdout" : "stderr", piece}})));
  if (connection->output.over_high_water()) {
    // A client that reads nothing of its stream: it is treated as gone, and its run ended.
    spdlog::warn("run {}: the client reads too slowly ({} bytes waiting); ending the run", id, connection->output.pending());
    close_connection(connection->id);
  }
}

void Server::on_done(const std::string& id, json report, CollectedFiles files) {
  auto found = runs_.find(id);
  if (found == runs_.end()) return;
  Run run = found->second;
  runs_.erase(found);
  std::string status = report.contains("status") && report["status"].is_string() ? report["status"].get<std::string>() : "unknown";
  metrics_.add("agentjail_runs_total", {{"status", status}});
  Connection* connection = find(run.connection_id);
  if (!connection || connection->run_id != id) return;
  json body = run_response(std::move(report), run.caller_uid, files, run.collected);
  if (connection->execute_shape) {
    answer(*connection, 200, kJson, execute_response(body).dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  } else if (connection->stream) {
    for (auto [text, key] : {std::pair{&connection->out_text, "stdout"}, std::pair{&connection->err_text, "stderr"}})
      if (std::string rest = text->finish(); !rest.empty()) connection->output.push(http::chunk(ndjson_line(json{{key, rest}})));
    connection->output.push(http::chunk(ndjson_line(json{{"report", std::move(body)}})));
    connection->output.push(http::last_chunk());
    finish_request(*connection, 200);
  } else {
    answer(*connection, 200, kJson, body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  }
}

void Server::handle_delete(Connection& connection, const std::string& id) {
  const uid_t uid = connection.peer.uid;
  // A run is ended by the uid that started it, or by the server's own user or root.
  auto may_end = [&](uid_t owner) { return owner == uid || uid == 0 || uid == ::geteuid(); };
  auto run = runs_.find(id);
  if (run != runs_.end() && may_end(run->second.caller_uid)) {
    executor_.cancel(id, CancelReason::deleted);
    answer(connection, 202, kJson, json{{"id", id}, {"cancelled", true}}.dump() + "\n");
    return;
  }
  auto waiting = std::find_if(queue_.begin(), queue_.end(), [&](const Waiting& w) { return w.request.id == id; });
  if (waiting != queue_.end() && may_end(waiting->request.caller_uid)) {
    uint64_t waiter = waiting->connection_id;
    queue_.erase(waiting);
    if (Connection* other = find(waiter)) {
      other->run_id.clear();
      answer_error(*other, ApiError{409, "run " + id + " was deleted before it started", std::nullopt});
    }
    answer(connection, 202, kJson, json{{"id", id}, {"cancelled", true}}.dump() + "\n");
    return;
  }
  answer_error(connection, ApiError{404, valid_run_id(id) ? "no run " + id + " is running" : "no such run", std::nullopt});
}

void Server::on_writable(Connection& connection) {
  const size_t before = connection.output.pending();
  if (auto flushed = connection.output.flush(connection.fd.get()); !flushed) {
    close_connection(connection.id);
    return;
  }
  if (connection.output.pending() < before) connection.last_activity = sys::monotonic_ms();
  if (connection.output.empty() && connection.phase == Connection::Phase::closing && !connection.write_shut) {
    // Half-close, then read what the client still sends for a moment: closing with unread
    // bytes would reset the connection and could destroy the answer before it is read.
    ::shutdown(connection.fd.get(), SHUT_WR);
    connection.write_shut = true;
    connection.closing_deadline = sys::monotonic_ms() + kLingerMs;
  }
}

void Server::close_connection(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& connection = *it->second;
  if (!connection.run_id.empty()) {
    const std::string run_id = connection.run_id;
    if (auto run = runs_.find(run_id); run != runs_.end() && run->second.connection_id == id) {
      run->second.connection_id = 0;
      pending_cancels_.emplace_back(run_id, CancelReason::disconnected);
    }
    std::erase_if(queue_, [&](const Waiting& w) { return w.connection_id == id; });
  }
  connections_.erase(it);
}

void Server::check_deadlines(double now) {
  std::vector<uint64_t> expired, idle;
  for (auto& [id, connection] : connections_) {
    Connection& c = *connection;
    if (c.phase == Connection::Phase::closing) {
      // Half-closed and lingering, or still unable to hand over its last answer.
      if (c.write_shut ? now > c.closing_deadline : now - c.last_activity > config_.body_timeout_ms) idle.push_back(id);
      continue;
    }
    if (c.phase != Connection::Phase::reading) continue;
    if (c.parser.in_request() && !c.parser.head_complete() && c.first_byte > 0 && now - c.first_byte > config_.head_timeout_ms)
      expired.push_back(id);
    else if (c.parser.in_request() && c.parser.head_complete() && now - c.last_activity > config_.body_timeout_ms)
      expired.push_back(id);
    else if (!c.parser.in_request() && c.output.empty() && (draining_ || now - c.last_activity > config_.idle_timeout_ms))
      idle.push_back(id);
  }
  for (uint64_t id : idle) close_connection(id);
  for (uint64_t id : expired) {
    Connection* c = find(id);
    if (!c) continue;
    c->route = "other";
    c->keep_alive = false;
    c->request_started = now;
    c->input.clear();
    metrics_.add("agentjail_requests_refused_total", {{"reason", "timeout"}});
    answer_error(*c, ApiError{408, "the request did not arrive in time", std::nullopt});
  }
  if (draining_) {
    if (!drain_cancelled_ && now - drain_started_ >= config_.grace_ms) {
      drain_cancelled_ = true;
      for (const auto& [id, run] : runs_) pending_cancels_.emplace_back(id, CancelReason::shutdown);
    }
    if (runs_.empty() && now - drain_started_ >= config_.grace_ms + kDrainCloseMs) connections_.clear();
  }
}

void Server::begin_drain() {
  if (draining_) return;
  draining_ = true;
  drain_started_ = sys::monotonic_ms();
  if (unix_) {
    remove_socket_file(*unix_);
    unix_.reset();
  }
  tcp_.reset();
  while (!queue_.empty()) {
    Waiting waiting = std::move(queue_.front());
    queue_.pop_front();
    if (Connection* connection = find(waiting.connection_id)) {
      connection->run_id.clear();
      answer_error(*connection, ApiError{503, "the server is shutting down", config_.retry_after_s});
    }
  }
  executor_.begin_shutdown();
  spdlog::info("draining: {} runs, {} connections", runs_.size(), connections_.size());
}

bool Server::drained() const { return draining_ && runs_.empty() && connections_.empty() && executor_.idle(); }

std::string Server::metrics_text() {
  metrics_.set("agentjail_runs_active", {}, static_cast<double>(runs_.size()));
  metrics_.set("agentjail_runs_queued", {}, static_cast<double>(queue_.size()));
  metrics_.set("agentjail_connections", {}, static_cast<double>(connections_.size()));
  for (const auto& [name, pool] : executor_.pools()) {
    metrics_.set("agentjail_pool_ready", {{"policy", name}}, pool.ready);
    metrics_.set("agentjail_pool_target", {{"policy", name}}, pool.target);
    metrics_.set_total("agentjail_pool_runs_total", {{"policy", name}, {"jail", "pooled"}}, static_cast<double>(pool.served));
    metrics_.set_total("agentjail_pool_runs_total", {{"policy", name}, {"jail", "cold"}}, static_cast<double>(pool.cold));
  }
  return metrics_.render();
}

int Server::next_timeout_ms(double) const {
  int timeout = connections_.empty() && !draining_ ? -1 : 250;
  int tick = executor_.next_tick_ms();
  if (tick >= 0 && (timeout < 0 || tick < timeout)) timeout = tick;
  return timeout;
}

Status Server::step(int timeout_ms) {
  std::vector<pollfd> fds;
  std::vector<uint64_t> owners;  // connection id per entry; 0 for listeners and the signal fd
  const bool accepting = !draining_ && connections_.size() < config_.max_connections;
  if (accepting && unix_) fds.push_back({unix_->fd.get(), POLLIN, 0}), owners.push_back(0);
  if (accepting && tcp_) fds.push_back({tcp_.get(), POLLIN, 0}), owners.push_back(0);
  if (signal_fd_ >= 0) fds.push_back({signal_fd_, POLLIN, 0}), owners.push_back(0);
  for (const auto& [id, connection] : connections_) {
    short events = 0;
    switch (connection->phase) {
      case Connection::Phase::reading:
        if (connection->output.pending() < kPipelineOutputLimit) events |= POLLIN;
        break;
      case Connection::Phase::waiting: events |= POLLRDHUP; break;  // a client that leaves ends its run
      case Connection::Phase::closing: events |= POLLIN; break;
    }
    if (!connection->output.empty()) events |= POLLOUT;
    fds.push_back({connection->fd.get(), events, 0});
    owners.push_back(id);
  }
  const size_t ours = fds.size();
  executor_.poll_fds(fds);

  int ready = ::poll(fds.data(), fds.size(), timeout_ms);
  if (ready < 0 && errno != EINTR) return fail_errno("poll");
  double now = sys::monotonic_ms();

  for (size_t i = 0; i < ours && ready > 0; ++i) {
    const pollfd& p = fds[i];
    if (!p.revents) continue;
    if (owners[i] == 0) {
      if (p.fd == signal_fd_) {
        signalfd_siginfo info;
        while (::read(signal_fd_, &info, sizeof info) == sizeof info) {}
        begin_drain();
      } else if (!draining_) {
        accept_from(p.fd, tcp_ && p.fd == tcp_.get());
      }
      continue;
    }
    Connection* connection = find(owners[i]);
    if (!connection) continue;
    if (p.revents & (POLLERR | POLLNVAL)) {
      close_connection(owners[i]);
      continue;
    }
    if (p.revents & POLLOUT) on_writable(*connection);
    if (!(connection = find(owners[i]))) continue;
    if (connection->phase == Connection::Phase::waiting && (p.revents & (POLLRDHUP | POLLHUP))) {
      spdlog::info("run {}: the client disconnected; ending the run", connection->run_id);
      close_connection(owners[i]);
      continue;
    }
    if (p.revents & (POLLIN | POLLHUP)) on_readable(*connection);
  }
  for (size_t i = ours; i < fds.size(); ++i)
    if (fds[i].revents) executor_.on_ready(fds[i].fd, fds[i].revents);
  executor_.on_tick();

  // Work the executor's callbacks asked for, done now that it is not in the middle of its own.
  auto cancels = std::move(pending_cancels_);
  pending_cancels_.clear();
  for (const auto& [id, reason] : cancels)
    if (runs_.contains(id)) executor_.cancel(id, reason);
  start_queued();
  // Pipelined requests left in a buffer while an answer was being made.
  std::vector<uint64_t> resume;
  for (const auto& [id, connection] : connections_)
    if (connection->phase == Connection::Phase::reading && !connection->input.empty()) resume.push_back(id);
  for (uint64_t id : resume)
    if (Connection* connection = find(id)) process_input(*connection);
  // Answers made in this round go out now rather than after the next poll.
  std::vector<uint64_t> writers;
  for (const auto& [id, connection] : connections_)
    if (!connection->output.empty()) writers.push_back(id);
  for (uint64_t id : writers)
    if (Connection* connection = find(id)) on_writable(*connection);
  check_deadlines(now);
  return {};
}

Status Server::run(int signal_fd) {
  signal_fd_ = signal_fd;
  while (!drained()) {
    auto stepped = step(next_timeout_ms(sys::monotonic_ms()));
    if (!stepped) return stepped;
  }
  return {};
}

}  // namespace aj::serve
