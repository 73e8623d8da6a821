#include "jail/sync.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace aj::jail {
namespace {

void copy_bounded(char* dst, size_t size, std::string_view src) {
  size_t n = std::min(src.size(), size - 1);
  std::memcpy(dst, src.data(), n);
  dst[n] = '\0';
}

}  // namespace

void Msg::set_step(std::string_view name) { copy_bounded(step, sizeof step, name); }
void Msg::set_text(std::string_view message) { copy_bounded(text, sizeof text, message); }
std::string_view Msg::step_name() const { return {step, strnlen(step, sizeof step)}; }
std::string_view Msg::message() const { return {text, strnlen(text, sizeof text)}; }

int send_msg(int fd, const Msg& msg, int pass_fd) noexcept {
  iovec iov{const_cast<Msg*>(&msg), sizeof msg};
  msghdr hdr{};
  hdr.msg_iov = &iov;
  hdr.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass_fd >= 0) {
    hdr.msg_control = control;
    hdr.msg_controllen = sizeof control;
    cmsghdr* cmsg = CMSG_FIRSTHDR(&hdr);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
  }
  while (true) {
    ssize_t n = ::sendmsg(fd, &hdr, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    return 0;
  }
}

Result<std::optional<Received>> recv_msg(int fd) {
  Received received;
  iovec iov{&received.msg, sizeof received.msg};
  msghdr hdr{};
  hdr.msg_iov = &iov;
  hdr.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  hdr.msg_control = control;
  hdr.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(fd, &hdr, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return fail_errno("recvmsg from the jail");
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&hdr); cmsg; cmsg = CMSG_NXTHDR(&hdr, cmsg)) {
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      int passed;
      std::memcpy(&passed, CMSG_DATA(cmsg), sizeof passed);
      received.fd.reset(passed);
    }
  }
  if (n == 0) return std::nullopt;
  if (static_cast<size_t>(n) != sizeof received.msg || (hdr.msg_flags & MSG_TRUNC))
    return fail(EPROTO, "malformed message from the jail");
  return received;
}

}  // namespace aj::jail
