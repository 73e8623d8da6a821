// Who may use the server: the peer's credentials on the unix socket (SO_PEERCRED), the
// --allow-uid list, and the bearer token that --listen (TCP) requires.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace aj::serve {

struct Peer {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
};

// SO_PEERCRED of a connected unix socket: the credentials of the process that connected.
Result<Peer> peer_credentials(int fd);

// Equal in time that depends on neither the contents nor the lengths of the two strings: both
// are hashed (SHA-256) and the digests compared without an early exit.
bool constant_time_equal(std::string_view a, std::string_view b);

// Reads the token for --listen from --token-file: a regular file (never through a symlink)
// owned by the server's user or root, with no permission for group or others (like an ssh
// key), at most 4 KiB; surrounding whitespace removed; at least 16 bytes remain.
Result<std::string> read_token_file(const std::string& path);

// True when an Authorization header holds "Bearer TOKEN" with exactly `token`.
bool bearer_matches(const std::string* authorization, std::string_view token);

// True when `uid` may run: the list is empty (the socket's mode and group decide) or holds it.
bool uid_allowed(uid_t uid, const std::vector<uid_t>& allowed);

}  // namespace aj::serve
