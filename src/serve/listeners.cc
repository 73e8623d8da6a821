#include "serve/listeners.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "base/strings.h"
#include "sys/files.h"

namespace aj::serve {
namespace {

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path)
    return fail(ENAMETOOLONG, "socket path " + aj::quoted(path) + " must be 1 to " + std::to_string(sizeof address.sun_path - 1) + " bytes");
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

// An existing file at the socket's path: a dead server's socket is removed, anything else stays.
Status clear_stale_socket(const std::string& path, const sockaddr_un& address) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno("socket " + path + ": lstat");
  }
  if (S_ISLNK(st.st_mode)) return fail(EEXIST, "socket " + path + " is a symlink (remove it; agentjail never follows one)");
  if (!S_ISSOCK(st.st_mode)) return fail(EEXIST, "socket " + path + " exists and is not a socket");
  sys::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return fail_errno("socket");
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0)
    return fail(EADDRINUSE, "socket " + path + ": another server is listening on it");
  if (errno != ECONNREFUSED) return fail_errno("socket " + path + ": connect to check whether a server listens");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail_errno("socket " + path + ": remove the stale socket");
  return {};
}

}  // namespace

Result<UnixListener> listen_unix(const std::string& path, mode_t mode, std::optional<gid_t> group, int backlog) {
  auto address = unix_address(path);
  if (!address) return std::unexpected(address.error());
  if (auto cleared = clear_stale_socket(path, *address); !cleared) return std::unexpected(cleared.error());
  UnixListener listener;
  listener.path = path;
  listener.fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener.fd) return fail_errno("socket");
  // bind() creates the file with 0777 & ~umask: set the umask so it is born with `mode`, and
  // no one can connect in a window before a chmod. Single-threaded, so the umask is ours.
  mode_t previous = ::umask(~mode & 0777);
  int bound = ::bind(listener.fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address);
  int bind_errno = errno;
  ::umask(previous);
  if (bound != 0) return fail(bind_errno, "bind " + path);
  // The file we just made, by descriptor and without following a symlink put there since.
  sys::UniqueFd node(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!node || ::fstat(node.get(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid()) {
    ::unlink(path.c_str());
    return fail(EEXIST, "socket " + path + " was replaced while it was being created");
  }
  listener.dev = st.st_dev;
  listener.ino = st.st_ino;
  if (group && ::fchownat(node.get(), "", static_cast<uid_t>(-1), *group, AT_EMPTY_PATH) != 0) {
    Error error{errno, "socket " + path + ": chown to group " + std::to_string(*group)};
    remove_socket_file(listener);
    return std::unexpected(error);
  }
  if (::listen(listener.fd.get(), backlog) != 0) {
    Error error{errno, "listen " + path};
    remove_socket_file(listener);
    return std::unexpected(error);
  }
  return listener;
}

void remove_socket_file(const UnixListener& listener) {
  struct stat st {};
  if (listener.path.empty() || ::lstat(listener.path.c_str(), &st) != 0) return;
  if (S_ISSOCK(st.st_mode) && st.st_dev == listener.dev && st.st_ino == listener.ino) ::unlink(listener.path.c_str());
}

Result<sys::UniqueFd> listen_tcp(const std::string& address, int backlog) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return fail(EINVAL, "--listen " + aj::quoted(address) + ": expected ADDRESS:PORT");
  std::string host = address.substr(0, colon);
  std::string port_text = address.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return fail(EINVAL, "--listen " + aj::quoted(address) + ": the port must be 1 to 65535");
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &in6->sin6_addr) != 1)
      return fail(EINVAL, "--listen " + aj::quoted(address) + ": not a numeric IPv6 address");
    length = sizeof *in6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &in4->sin_addr) != 1)
      return fail(EINVAL, "--listen " + aj::quoted(address) + ": not a numeric IPv4 address (names are not looked up)");
    length = sizeof *in4;
  }
  sys::UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fail_errno("socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) return fail_errno("bind " + address);
  if (::listen(fd.get(), backlog) != 0) return fail_errno("listen " + address);
  return fd;
}

Result<gid_t> parse_group(const std::string& text) {
  gid_t gid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), gid);
  if (ec == std::errc{} && end == text.data() + text.size()) return gid;
  auto groups = sys::read_file("/etc/group");
  if (!groups) return std::unexpected(groups.error().context("--socket-group " + text));
  for (const std::string& line : split(*groups, '\n')) {
    auto fields = split(line, ':');
    if (fields.size() >= 3 && fields[0] == text) {
      auto [e, c] = std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), gid);
      if (c == std::errc{} && e == fields[2].data() + fields[2].size()) return gid;
    }
  }
  return fail(ENOENT, "--socket-group " + aj::quoted(text) + ": no such group in /etc/group");
}

}  // namespace aj::serve
