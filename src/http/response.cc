#include "http/response.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>

namespace aj::http {
namespace {

void append_headers(std::string& out, const Headers& headers) {
  for (const auto& [name, value] : headers) {
    // Our handlers set the headers, but a CR or LF in a value would split the response:
    // drop such a header rather than send it.
    if (name.find_first_of("\r\n:") != std::string::npos || value.find_first_of("\r\n") != std::string::npos)
      continue;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
}

std::string status_line(int status) { return fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status)); }

}  // namespace

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string serialize(const Response& response, bool keep_alive, bool head_only) {
  std::string out = status_line(response.status);
  append_headers(out, response.headers);
  out += fmt::format("Content-Length: {}\r\n", response.body.size());
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!head_only) out += response.body;
  return out;
}

std::string chunked_head(int status, const Headers& headers, bool keep_alive) {
  std::string out = status_line(status);
  append_headers(out, headers);
  out += "Transfer-Encoding: chunked\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return out;
}

std::string chunk(std::string_view data) {
  if (data.empty()) return {};
  return fmt::format("{:x}\r\n{}\r\n", data.size(), data);
}

std::string last_chunk() { return "0\r\n\r\n"; }

void WriteQueue::push(std::string bytes) {
  if (bytes.empty()) return;
  pending_ += bytes.size();
  chunks_.push_back(std::move(bytes));
}

Status WriteQueue::flush(int fd) {
  while (!chunks_.empty()) {
    const std::string& front = chunks_.front();
    ssize_t n = ::send(fd, front.data() + offset_, front.size() - offset_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
      return fail_errno("send");
    }
    offset_ += static_cast<size_t>(n);
    pending_ -= static_cast<size_t>(n);
    if (offset_ == front.size()) {
      chunks_.pop_front();
      offset_ = 0;
    }
  }
  return {};
}

}  // namespace aj::http
