// The server against the fake executor, over real unix sockets: routing, the queue in front
// of --max-jails, streams, cancels, disconnects, timeouts and what is left after each.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "base/strings.h"
#include "fake_executor.h"
#include "serve/encoding.h"
#include "serve/server.h"
#include "sys/process.h"

using namespace aj;
using namespace aj::serve;
using nlohmann::json;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/aj-serve-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

struct Reply {
  int status = 0;
  std::string head;
  std::string body;  // de-chunked
  const std::string header(std::string_view name) const {
    std::string lowered = "\r\n" + std::string(name) + ": ";
    size_t at = head.find(lowered);
    if (at == std::string::npos) return {};
    size_t start = at + lowered.size();
    return head.substr(start, head.find("\r\n", start) - start);
  }
};

// Takes one complete response off the front of `buffer`, if it holds one.
std::optional<Reply> take_reply(std::string& buffer, bool head_only = false) {
  size_t end = buffer.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  Reply reply;
  reply.head = buffer.substr(0, end + 2);
  reply.status = std::atoi(buffer.c_str() + 9);
  size_t body_at = end + 4;
  if (reply.status == 100) {
    buffer.erase(0, body_at);
    return take_reply(buffer);
  }
  if (reply.head.find("Transfer-Encoding: chunked") != std::string::npos) {
    size_t at = body_at;
    std::string body;
    for (;;) {
      size_t line_end = buffer.find("\r\n", at);
      if (line_end == std::string::npos) return std::nullopt;
      size_t size = std::stoul(buffer.substr(at, line_end - at), nullptr, 16);
      if (buffer.size() < line_end + 2 + size + 2) return std::nullopt;
      body += buffer.substr(line_end + 2, size);
      at = line_end + 2 + size + 2;
      if (size == 0) break;
    }
    reply.body = body;
    buffer.erase(0, at);
    return reply;
  }
  size_t length = head_only ? 0 : std::stoul(reply.header("Content-Length").empty() ? "0" : reply.header("Content-Length"));
  if (buffer.size() < body_at + length) return std::nullopt;
  reply.body = buffer.substr(body_at, length);
  buffer.erase(0, body_at + length);
  return reply;
}

std::string post_wire(std::string_view body, std::string_view target = "/v1/runs") {
  return "POST " + std::string(target) + " HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    connected = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Runs the server until one response is complete (or `rounds` run out).
  std::optional<Reply> receive(Server& server, int rounds = 2000, bool head_only = false) {
    for (int i = 0; i < rounds; ++i) {
      if (auto reply = take_reply(buffer_, head_only)) return reply;
      server.step(5).value();
      char chunk[65536];
      ssize_t n;
      while ((n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT)) > 0) buffer_.append(chunk, static_cast<size_t>(n));
      if (n == 0) eof = true;
      if (eof) {
        if (auto reply = take_reply(buffer_)) return reply;
        return std::nullopt;
      }
    }
    return std::nullopt;
  }
  std::optional<Reply> request(Server& server, std::string method, std::string target, std::string body = "",
                               std::string extra = "") {
    std::string wire = method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + extra;
    if (!body.empty() || method == "POST") wire += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    send(wire + "\r\n" + body);
    return receive(server, 2000, method == "HEAD");
  }
  bool connected = false;
  bool eof = false;

 private:
  int fd_ = -1;
  std::string buffer_;
};

struct Rig {
  TempDir dir;
  test::FakeExecutor executor;
  PolicyCatalog catalog = {{"default", Limits{}}, {"python", Limits{}}};
  std::unique_ptr<Server> server;
  std::string socket;

  explicit Rig(std::function<void(ServerConfig&)> adjust = nullptr) {
    socket = dir.path + "/agentjail.sock";
    ServerConfig config;
    config.socket_path = socket;
    config.parse.policies = &catalog;
    config.parse.default_policy = "default";
    if (adjust) adjust(config);
    server = std::make_unique<Server>(std::move(config), executor);
    REQUIRE(server->listen());
  }
  void settle(int rounds = 50) {
    for (int i = 0; i < rounds; ++i) server->step(2).value();
  }
};

}  // namespace

TEST_CASE("serve server: health, metrics and the routes that are not there") {
  Rig rig;
  Client client(rig.socket);
  REQUIRE(client.connected);
  auto health = client.request(*rig.server, "GET", "/v1/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(json::parse(health->body) == json::parse(R"({"ok": true, "pools": {"default": {"ready": 2, "target": 2}}})"));
  auto metrics = client.request(*rig.server, "GET", "/v1/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->header("Content-Type").starts_with("text/plain; version=0.0.4"));
  CHECK(metrics->body.find("agentjail_pool_ready{policy=\"default\"} 2") != std::string::npos);
  CHECK(metrics->body.find("agentjail_requests_total{route=\"GET /v1/health\",code=\"200\"} 1") != std::string::npos);
  auto missing = client.request(*rig.server, "GET", "/v2/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(json::parse(missing->body)["error"] == "no such endpoint: /v2/nothing");
  auto wrong = client.request(*rig.server, "GET", "/v1/runs");
  REQUIRE(wrong);
  CHECK(wrong->status == 405);
  CHECK(wrong->header("Allow") == "POST");
  auto head = client.request(*rig.server, "HEAD", "/v1/health");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
}

TEST_CASE("serve server: a run answers with the report, caller_uid and the collected files") {
  Rig rig;
  Client client(rig.socket);
  auto reply = client.request(*rig.server, "POST", "/v1/runs",
                              R"({"policy": "python", "command": ["echo", "hi"], "files": {"/work/in.txt": "data"},
                                  "collect": ["/work/in.txt", "/missing.txt"], "limits": {"pids": 8}})");
  REQUIRE(reply);
  CHECK(reply->status == 200);
  json body = json::parse(reply->body);
  CHECK(body["status"] == "ok");
  CHECK(body["stdout"] == "hi\n");
  CHECK(body["caller_uid"] == ::getuid());
  CHECK(body["policy"]["name"] == "python");
  CHECK(body["limits"]["pids"] == 8);
  CHECK(body["files"]["/work/in.txt"] == "data");
  CHECK(body["files"]["/missing.txt"].is_null());
  REQUIRE(rig.executor.started.size() == 1);
  CHECK(rig.executor.started[0].caller_uid == ::getuid());
  CHECK(rig.executor.started[0].caller_pid == ::getpid());
  CHECK(rig.executor.started[0].id.size() == 32);  // one the server made
}

TEST_CASE("serve server: bad requests get their status and nothing runs") {
  Rig rig([](ServerConfig& config) { config.http.max_body = 1024; });
  Client client(rig.socket);
  auto bad_json = client.request(*rig.server, "POST", "/v1/runs", "{nope");
  REQUIRE(bad_json);
  CHECK(bad_json->status == 400);
  auto unknown = client.request(*rig.server, "POST", "/v1/runs", R"({"policy": "ruby", "command": ["x"]})");
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  auto above = client.request(*rig.server, "POST", "/v1/runs", R"({"command": ["x"], "limits": {"memory": "1GiB"}})");
  REQUIRE(above);
  CHECK(above->status == 400);
  CHECK(json::parse(above->body)["error"].get<std::string>().find("above the policy's") != std::string::npos);
  auto stream = client.request(*rig.server, "POST", "/v1/runs?stream=xml", R"({"command": ["x"]})");
  REQUIRE(stream);
  CHECK(stream->status == 400);
  auto large = client.request(*rig.server, "POST", "/v1/runs", std::string(2000, ' '));
  REQUIRE(large);
  CHECK(large->status == 413);
  CHECK(large->header("Connection") == "close");
  CHECK(rig.executor.started.empty());
}

TEST_CASE("serve server: the stream is the id, the output in whole characters, then the report") {
  Rig rig;
  Client client(rig.socket);
  auto reply = client.request(*rig.server, "POST", "/v1/runs?stream=ndjson", R"({"id": "s1", "command": ["spew", "301"]})");
  REQUIRE(reply);
  CHECK(reply->status == 200);
  CHECK(reply->header("Content-Type") == "application/x-ndjson");
  std::vector<json> lines;
  for (const std::string& line : split(reply->body, '\n'))
    if (!line.empty()) lines.push_back(json::parse(line));
  REQUIRE(lines.size() >= 3);
  CHECK(lines.front() == json{{"id", "s1"}});
  std::string streamed;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    REQUIRE(lines[i].contains("stdout"));
    streamed += lines[i]["stdout"].get<std::string>();
  }
  std::string expected;
  for (int i = 0; i < 150; ++i) expected += "\xC3\xA9";
  CHECK(streamed == expected + "\xEF\xBF\xBD");  // 301 bytes: the last character is cut in half
  CHECK(lines.back()["report"]["status"] == "ok");
  CHECK(lines.back()["report"]["id"] == "s1");
}

TEST_CASE("serve server: at --max-jails a request waits in the queue, beyond it gets 503") {
  Rig rig([](ServerConfig& config) {
    config.max_jails = 1;
    config.queue = 1;
    config.retry_after_s = 3;
  });
  Client first(rig.socket), second(rig.socket), third(rig.socket);
  first.send(post_wire(R"({"id":"a","command":["sleep","0.3"]})"));
  rig.settle(5);
  CHECK(rig.server->runs() == 1);
  second.send(post_wire(R"({"id":"b","command":["echo"]})"));
  rig.settle(5);
  CHECK(rig.server->queued() == 1);
  auto refused = third.request(*rig.server, "POST", "/v1/runs", R"({"id": "c", "command": ["echo"]})");
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->header("Retry-After") == "3");
  auto a = first.receive(*rig.server);
  auto b = second.receive(*rig.server);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(json::parse(a->body)["id"] == "a");
  CHECK(json::parse(b->body)["id"] == "b");
  CHECK(rig.executor.started.size() == 2);
  CHECK(rig.executor.started[1].id == "b");  // started only after "a" ended
}

TEST_CASE("serve server: ids are unique while they run") {
  Rig rig;
  Client first(rig.socket), second(rig.socket);
  first.send(post_wire(R"({"id":"same","command":["sleep","5"]})"));
  rig.settle(5);
  auto clash = second.request(*rig.server, "POST", "/v1/runs", R"({"id": "same", "command": ["echo"]})");
  REQUIRE(clash);
  CHECK(clash->status == 409);
  first.close();
  rig.settle(20);
  CHECK(rig.server->runs() == 0);
}

TEST_CASE("serve server: DELETE ends a run and its client gets the report") {
  Rig rig;
  Client runner(rig.socket), deleter(rig.socket);
  runner.send(post_wire(R"({"id":"j1","command":["sleep","60"]})"));
  rig.settle(5);
  REQUIRE(rig.server->runs() == 1);
  auto deleted = deleter.request(*rig.server, "DELETE", "/v1/runs/j1");
  REQUIRE(deleted);
  CHECK(deleted->status == 202);
  auto report = runner.receive(*rig.server);
  REQUIRE(report);
  CHECK(json::parse(report->body)["status"] == "signal");
  REQUIRE(rig.executor.cancels.size() == 1);
  CHECK(rig.executor.cancels[0].second == CancelReason::deleted);
  auto gone = deleter.request(*rig.server, "DELETE", "/v1/runs/j1");
  REQUIRE(gone);
  CHECK(gone->status == 404);
}

TEST_CASE("serve server: a client that disconnects ends its run") {
  Rig rig;
  {
    Client client(rig.socket);
    client.send(post_wire(R"({"id":"d1","command":["sleep","60"]})"));
    rig.settle(5);
    REQUIRE(rig.server->runs() == 1);
  }
  rig.settle(20);
  CHECK(rig.server->runs() == 0);
  CHECK(rig.server->connections() == 0);
  REQUIRE(rig.executor.cancels.size() == 1);
  CHECK(rig.executor.cancels[0] == std::pair{std::string("d1"), CancelReason::disconnected});
  CHECK(rig.executor.running() == 0);
}

TEST_CASE("serve server: 1000 connections opened and dropped leave nothing behind") {
  Rig rig([](ServerConfig& config) {
    config.max_connections = 300;
    config.max_jails = 50;
    config.queue = 50;
  });
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 200; ++i) {
      clients.push_back(std::make_unique<Client>(rig.socket));
      switch (i % 4) {
        case 0: break;                                              // nothing sent
        case 1: clients.back()->send("POST /v1/runs HTTP/1.1\r\nContent-Le"); break;  // half a head
        case 2: clients.back()->send("POST /v1/runs HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"comm"); break;
        case 3: clients.back()->send("POST /v1/runs HTTP/1.1\r\nContent-Length: 34\r\n\r\n{\"command\":[\"sleep\",\"30\"]}        "); break;
      }
      if (i % 10 == 0) rig.server->step(0).value();
    }
    rig.settle(10);
    clients.clear();
    rig.settle(30);
  }
  rig.settle(50);
  CHECK(rig.server->connections() == 0);
  CHECK(rig.server->runs() == 0);
  CHECK(rig.server->queued() == 0);
  CHECK(rig.executor.running() == 0);
  // And it still serves.
  Client client(rig.socket);
  auto health = client.request(*rig.server, "GET", "/v1/health");
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE("serve server: a uid not in --allow-uid is refused") {
  Rig rig([](ServerConfig& config) { config.allowed_uids = {::getuid() + 4242}; });
  Client client(rig.socket);
  auto reply = client.request(*rig.server, "POST", "/v1/runs", R"({"command": ["echo"]})");
  REQUIRE(reply);
  CHECK(reply->status == 403);
  CHECK(json::parse(reply->body)["error"].get<std::string>().find("--allow-uid") != std::string::npos);
  CHECK(rig.executor.started.empty());
  CHECK(rig.server->metrics_text().find("agentjail_requests_refused_total{reason=\"uid\"} 1") != std::string::npos);
}

TEST_CASE("serve server: a head that does not arrive in time gets 408") {
  Rig rig([](ServerConfig& config) { config.head_timeout_ms = 50; });
  Client client(rig.socket);
  client.send("GET /v1/health HTTP/1.1\r\nHost:");
  auto reply = client.receive(*rig.server);
  REQUIRE(reply);
  CHECK(reply->status == 408);
  rig.settle(20);
}

TEST_CASE("serve server: pipelined requests are answered in order; 100-continue is sent") {
  Rig rig;
  Client client(rig.socket);
  client.send("GET /v1/health HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nPOST /v1/runs HTTP/1.1\r\nContent-Length: 26\r\n\r\n{\"command\":[\"echo\",\"x\"]}  ");
  auto one = client.receive(*rig.server);
  auto two = client.receive(*rig.server);
  auto three = client.receive(*rig.server);
  REQUIRE(one);
  REQUIRE(two);
  REQUIRE(three);
  CHECK(one->status == 200);
  CHECK(two->status == 404);
  CHECK(three->status == 200);
  CHECK(json::parse(three->body)["stdout"] == "x\n");
  client.send("POST /v1/runs HTTP/1.1\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n");
  rig.settle(3);
  client.send("{\"command\":[\"echo\"]}");
  auto continued = client.receive(*rig.server);  // take_reply skips the 100
  REQUIRE(continued);
  CHECK(continued->status == 200);
}

TEST_CASE("serve server: the agent-sandbox /execute route") {
  Rig rig;
  Client client(rig.socket);
  auto reply = client.request(*rig.server, "POST", "/execute", R"({"command": "echo hi"})");
  REQUIRE(reply);
  CHECK(reply->status == 200);
  json body = json::parse(reply->body);
  CHECK(body.size() == 3);
  CHECK(body["exit_code"] == 127);  // the fake knows no /bin/sh
  REQUIRE(rig.executor.started.size() == 1);
  CHECK(rig.executor.started[0].command == std::vector<std::string>{"/bin/sh", "-c", "echo hi"});
}

TEST_CASE("serve server: SIGTERM's drain ends runs after the grace and removes the socket") {
  Rig rig([](ServerConfig& config) { config.grace_ms = 100; });
  Client runner(rig.socket);
  runner.send(post_wire(R"({"id":"t1","command":["sleep","60"]})"));
  rig.settle(5);
  REQUIRE(rig.server->runs() == 1);
  rig.server->begin_drain();
  struct stat st {};
  CHECK(::lstat(rig.socket.c_str(), &st) != 0);
  CHECK_FALSE(Client(rig.socket).connected);
  auto report = runner.receive(*rig.server);
  REQUIRE(report);
  CHECK(json::parse(report->body)["status"] == "signal");
  CHECK(report->header("Connection") == "close");
  REQUIRE(rig.executor.cancels.size() == 1);
  CHECK(rig.executor.cancels[0].second == CancelReason::shutdown);
  for (int i = 0; i < 2000 && !rig.server->drained(); ++i) rig.server->step(5).value();
  CHECK(rig.server->drained());
}

TEST_CASE("serve listeners: a stale socket is replaced, anything else is left alone") {
  TempDir dir;
  const std::string path = dir.path + "/s.sock";
  {
    auto first = listen_unix(path, 0600, std::nullopt);
    REQUIRE(first);
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto second = listen_unix(path, 0600, std::nullopt);
    REQUIRE_FALSE(second);
    CHECK(second.error().message.find("another server") != std::string::npos);
  }  // closed without removing the file: a server that died
  auto again = listen_unix(path, 0660, std::nullopt);
  REQUIRE(again);
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  remove_socket_file(*again);
  CHECK(::lstat(path.c_str(), &st) != 0);

  const std::string target = dir.path + "/target";
  std::ofstream(target) << "keep";
  REQUIRE(::symlink(target.c_str(), path.c_str()) == 0);
  CHECK(listen_unix(path, 0600, std::nullopt).error().message.find("symlink") != std::string::npos);
  ::unlink(path.c_str());
  std::ofstream(path) << "a file";
  CHECK(listen_unix(path, 0600, std::nullopt).error().message.find("not a socket") != std::string::npos);
  CHECK(std::filesystem::exists(target));
}
