// The server's listening sockets: a unix socket whose mode and group decide who may connect,
// and an optional TCP one (--listen ADDR:PORT, which needs a bearer token).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "base/error.h"
#include "sys/fd.h"

namespace aj::serve {

struct UnixListener {
  sys::UniqueFd fd;
  std::string path;
  dev_t dev = 0;  // of the socket file we made, so we remove that file and no other
  ino_t ino = 0;
};

// Binds and listens on a unix socket at `path` with `mode` (e.g. 0660) and, when given,
// group `group`. An existing file at `path` is replaced only when it is a socket that nobody
// listens on (a server that died); a symlink, any other file or a live socket is an error.
// The socket is created with its final mode (umask during bind), never chmod'ed through a path.
Result<UnixListener> listen_unix(const std::string& path, mode_t mode, std::optional<gid_t> group, int backlog = 128);
// Removes the socket file if it is still the one listen_unix made.
void remove_socket_file(const UnixListener& listener);

// "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080": numeric addresses only (no name lookup).
Result<sys::UniqueFd> listen_tcp(const std::string& address, int backlog = 128);

// A group by number or by name from /etc/group (read directly: the static binary has no NSS).
Result<gid_t> parse_group(const std::string& text);

}  // namespace aj::serve
