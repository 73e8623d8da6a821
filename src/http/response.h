// Server side of HTTP/1.1 responses: whole responses with Content-Length, chunked responses
// for streams (NDJSON), and the non-blocking write queue a poll loop drains.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace aj::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  int status = 200;
  Headers headers;  // Content-Length, Transfer-Encoding and Connection are added, never taken from here
  std::string body;
};

// "OK" for 200, "Payload Too Large" for 413; "Unknown" for codes without a name.
const char* reason_phrase(int status);
// The whole response: status line, headers, Content-Length, Connection, body. A HEAD
// request's answer (`head_only`) has the headers a GET would get and no body.
std::string serialize(const Response& response, bool keep_alive, bool head_only = false);
// The head of a chunked response ("Transfer-Encoding: chunked"); the body follows as chunk()s
// and ends with last_chunk().
std::string chunked_head(int status, const Headers& headers, bool keep_alive);
// One chunk of a chunked body; empty data gives "" (an empty chunk would end the body).
std::string chunk(std::string_view data);
std::string last_chunk();

// Bytes waiting to go out on a non-blocking socket, in order. The owner polls for POLLOUT
// while it is not empty and stops producing (or gives up on the peer) past high_water().
class WriteQueue {
 public:
  explicit WriteQueue(size_t high_water = 8u << 20) : high_water_(high_water) {}
  void push(std::string bytes);
  // Writes as much as the socket takes now (MSG_NOSIGNAL: a closed peer is an error, never
  // SIGPIPE). Ok when the queue is empty or the socket is full (EAGAIN); an error when the
  // peer is gone.
  Status flush(int fd);
  bool empty() const { return pending_ == 0; }
  size_t pending() const { return pending_; }
  // More than the peer should ever need buffered: a client that reads nothing.
  bool over_high_water() const { return pending_ > high_water_; }

 private:
  std::deque<std::string> chunks_;
  size_t offset_ = 0;  // bytes of chunks_.front() already written
  size_t pending_ = 0;
  size_t high_water_;
};

}  // namespace aj::http
