#include "serve/access.h"

#include <fcntl.h>
#include <nettle/sha2.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/strings.h"
#include "sys/fd.h"

namespace aj::serve {

Result<Peer> peer_credentials(int fd) {
  struct ucred cred {};
  socklen_t length = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return fail_errno("getsockopt SO_PEERCRED");
  return Peer{cred.uid, cred.gid, cred.pid};
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  uint8_t digest_a[SHA256_DIGEST_SIZE], digest_b[SHA256_DIGEST_SIZE];
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, a.size(), reinterpret_cast<const uint8_t*>(a.data()));
  sha256_digest(&ctx, sizeof digest_a, digest_a);
  sha256_init(&ctx);
  sha256_update(&ctx, b.size(), reinterpret_cast<const uint8_t*>(b.data()));
  sha256_digest(&ctx, sizeof digest_b, digest_b);
  // volatile: the compiler may not turn the loop into a memcmp that stops at the first difference.
  volatile uint8_t difference = 0;
  for (size_t i = 0; i < SHA256_DIGEST_SIZE; ++i) difference = difference | (digest_a[i] ^ digest_b[i]);
  return difference == 0;
}

Result<std::string> read_token_file(const std::string& path) {
  sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!fd) return fail_errno("token file " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("token file " + path + ": fstat");
  if (!S_ISREG(st.st_mode)) return fail(0, "token file " + path + " is not a regular file");
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    return fail(0, "token file " + path + " belongs to uid " + std::to_string(st.st_uid) + ", not to the server's user or root");
  if ((st.st_mode & 077) != 0)
    return fail(0, "token file " + path + " can be read or written by group or others (chmod 600 it)");
  if (st.st_size > 4096) return fail(0, "token file " + path + " is larger than 4 KiB");
  char buffer[4097];
  size_t got = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer + got, sizeof buffer - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("token file " + path + ": read");
    if (n == 0) break;
    got += static_cast<size_t>(n);
    if (got == sizeof buffer) return fail(0, "token file " + path + " is larger than 4 KiB");
  }
  std::string token(trim(std::string_view(buffer, got)));
  if (token.size() < 16) return fail(0, "token file " + path + " holds fewer than 16 bytes of token");
  if (std::any_of(token.begin(), token.end(), [](char c) { return c == '\n' || c == '\r' || c == '\0'; }))
    return fail(0, "token file " + path + " must hold one line");
  return token;
}

bool bearer_matches(const std::string* authorization, std::string_view token) {
  if (!authorization) return false;
  std::string_view value = *authorization;
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() < kScheme.size() || lower(value.substr(0, kScheme.size())) != kScheme) return false;
  return constant_time_equal(trim(value.substr(kScheme.size())), token);
}

bool uid_allowed(uid_t uid, const std::vector<uid_t>& allowed) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), uid) != allowed.end();
}

}  // namespace aj::serve
