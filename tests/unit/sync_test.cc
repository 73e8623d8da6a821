// jail/sync: the messages between the jail and the supervisor, framed over a real
// SOCK_SEQPACKET socketpair as agentjail uses it: every field round-trips, the strings are cut
// at their sizes and always read back bounded, an fd rides along by SCM_RIGHTS, EOF is
// std::nullopt, and a datagram of the wrong size is an error (its fd closed), never a crash.
#include "jail/sync.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace aj;
using jail::Msg;
using jail::MsgType;

namespace {

constexpr size_t kStepSize = sizeof(Msg{}.step);
constexpr size_t kTextSize = sizeof(Msg{}.text);

// Both ends of a SOCK_SEQPACKET socketpair, closed at the end of the test.
struct Pair {
  sys::UniqueFd a, b;
  Pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
};

// Sends raw bytes as one datagram, optionally with an fd, bypassing send_msg's framing.
void send_raw(int fd, const void* data, size_t size, int pass_fd = -1) {
  iovec iov{const_cast<void*>(data), size};
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
  REQUIRE(::sendmsg(fd, &hdr, MSG_NOSIGNAL) == static_cast<ssize_t>(size));
}

jail::Received receive(int fd) {
  auto got = jail::recv_msg(fd);
  REQUIRE_MESSAGE(got, got.error().what());
  REQUIRE(got->has_value());
  return std::move(**got);
}

bool same_file(int a, int b) {
  struct stat sa{}, sb{};
  REQUIRE(::fstat(a, &sa) == 0);
  REQUIRE(::fstat(b, &sb) == 0);
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

TEST_CASE("sync: every field of a message round-trips over the socket") {
  Pair p;
  Msg sent;
  sent.type = MsgType::exec_error;
  sent.error = -ENOEXEC;
  sent.value = std::numeric_limits<int64_t>::min() + 7;
  sent.set_step("mount-proc");
  sent.set_text("execve /bin/x: Exec format error");
  REQUIRE(jail::send_msg(p.a.get(), sent) == 0);

  auto got = receive(p.b.get());
  CHECK(got.msg.type == MsgType::exec_error);
  CHECK(got.msg.error == -ENOEXEC);
  CHECK(got.msg.value == std::numeric_limits<int64_t>::min() + 7);
  CHECK(got.msg.step_name() == "mount-proc");
  CHECK(got.msg.message() == "execve /bin/x: Exec format error");
  CHECK_FALSE(got.fd.valid());
  // The bytes on the wire are the struct itself: nothing stale past the strings' NULs.
  CHECK(std::memcmp(&got.msg, &sent, sizeof sent) == 0);

  // Every type, in order, one datagram each.
  for (auto type : {MsgType::go, MsgType::setup_error, MsgType::step_done, MsgType::listener,
                    MsgType::exec_error, MsgType::started, MsgType::exited}) {
    Msg m;
    m.type = type;
    m.value = static_cast<int64_t>(type) << 40;
    REQUIRE(jail::send_msg(p.a.get(), m) == 0);
  }
  for (auto type : {MsgType::go, MsgType::setup_error, MsgType::step_done, MsgType::listener,
                    MsgType::exec_error, MsgType::started, MsgType::exited}) {
    auto m = receive(p.b.get());
    CHECK(m.msg.type == type);
    CHECK(m.msg.value == static_cast<int64_t>(type) << 40);
    CHECK(m.msg.step_name().empty());
    CHECK(m.msg.message().empty());
  }
}

TEST_CASE("sync: step and text are cut at their sizes and stay NUL-terminated") {
  Msg m;
  m.set_step(std::string(kStepSize - 1, 's'));  // the longest that fits
  CHECK(m.step_name() == std::string(kStepSize - 1, 's'));
  m.set_step(std::string(kStepSize, 't'));
  CHECK(m.step_name() == std::string(kStepSize - 1, 't'));
  CHECK(m.step[kStepSize - 1] == '\0');
  m.set_step(std::string(1000, 'u'));
  CHECK(m.step_name() == std::string(kStepSize - 1, 'u'));
  CHECK(m.step[kStepSize - 1] == '\0');
  m.set_step("");
  CHECK(m.step_name().empty());

  m.set_text(std::string(kTextSize - 1, 'x'));
  CHECK(m.message() == std::string(kTextSize - 1, 'x'));
  m.set_text(std::string(100'000, 'y'));
  CHECK(m.message() == std::string(kTextSize - 1, 'y'));
  CHECK(m.text[kTextSize - 1] == '\0');
  // A shorter string after a longer one: what follows is not read back.
  m.set_text("short");
  CHECK(m.message() == "short");
  // Bytes after a NUL in the input are not part of the message.
  m.set_text(std::string_view("cut\0hidden", 10));
  CHECK(m.message() == "cut");

  Pair p;
  m.set_step(std::string(200, 'z'));
  m.set_text(std::string(2000, 'w'));
  REQUIRE(jail::send_msg(p.a.get(), m) == 0);
  auto got = receive(p.b.get());
  CHECK(got.msg.step_name() == std::string(kStepSize - 1, 'z'));
  CHECK(got.msg.message() == std::string(kTextSize - 1, 'w'));
}

TEST_CASE("sync: a message with unterminated strings is read back bounded") {
  // The sender is the jail: it may fill step and text to the last byte with no NUL.
  Pair p;
  Msg raw;
  raw.type = MsgType::setup_error;
  std::memset(raw.step, 'S', sizeof raw.step);
  std::memset(raw.text, 'T', sizeof raw.text);
  send_raw(p.a.get(), &raw, sizeof raw);
  auto got = receive(p.b.get());
  CHECK(got.msg.step_name() == std::string(kStepSize, 'S'));
  CHECK(got.msg.message() == std::string(kTextSize, 'T'));
}

TEST_CASE("sync: an fd passed with a message arrives, refers to the same file, and is close-on-exec") {
  Pair p;
  char path[] = "/tmp/aj-sync-test-XXXXXX";
  sys::UniqueFd file(::mkstemp(path));
  REQUIRE(file.valid());
  ::unlink(path);
  REQUIRE(::write(file.get(), "payload", 7) == 7);

  Msg m;
  m.type = MsgType::listener;
  REQUIRE(jail::send_msg(p.a.get(), m, file.get()) == 0);
  auto got = receive(p.b.get());
  CHECK(got.msg.type == MsgType::listener);
  REQUIRE(got.fd.valid());
  CHECK(got.fd.get() != file.get());
  CHECK(same_file(got.fd.get(), file.get()));
  CHECK((::fcntl(got.fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
  // One open file description: the offset is shared.
  char buf[8] = {};
  REQUIRE(::pread(got.fd.get(), buf, 7, 0) == 7);
  CHECK(std::string(buf) == "payload");
  CHECK(::lseek(got.fd.get(), 0, SEEK_CUR) == 7);

  // The next message without one carries none.
  REQUIRE(jail::send_msg(p.a.get(), Msg{}) == 0);
  CHECK_FALSE(receive(p.b.get()).fd.valid());
}

TEST_CASE("sync: recv_msg returns std::nullopt at EOF, after what was sent") {
  Pair p;
  Msg m;
  m.type = MsgType::exited;
  m.value = 9;
  REQUIRE(jail::send_msg(p.a.get(), m) == 0);
  p.a.reset();
  CHECK(receive(p.b.get()).msg.value == 9);
  auto end = jail::recv_msg(p.b.get());
  REQUIRE_MESSAGE(end, end.error().what());
  CHECK_FALSE(end->has_value());
  // And again: EOF stays EOF.
  end = jail::recv_msg(p.b.get());
  REQUIRE(end);
  CHECK_FALSE(end->has_value());
}

TEST_CASE("sync: a short or oversized datagram is an error, and the next message still reads") {
  Pair p;
  const char one = 'x';
  send_raw(p.a.get(), &one, 1);
  std::vector<char> half(sizeof(Msg) / 2, 'h');
  send_raw(p.a.get(), half.data(), half.size());
  std::vector<char> big(sizeof(Msg) + 64, 'b');
  send_raw(p.a.get(), big.data(), big.size());
  std::vector<char> huge(64 << 10, 'H');
  send_raw(p.a.get(), huge.data(), huge.size());
  Msg good;
  good.type = MsgType::started;
  good.value = 2;
  REQUIRE(jail::send_msg(p.a.get(), good) == 0);

  for (size_t size : {size_t{1}, half.size(), big.size(), huge.size()}) {
    CAPTURE(size);
    auto got = jail::recv_msg(p.b.get());
    REQUIRE_FALSE(got);
    CHECK(got.error().code == EPROTO);
    CHECK(got.error().what().find("malformed") != std::string::npos);
  }
  // One datagram per message: the bad ones did not shift the framing.
  auto next = receive(p.b.get());
  CHECK(next.msg.type == MsgType::started);
  CHECK(next.msg.value == 2);
}

TEST_CASE("sync: an fd that rides on a malformed datagram is closed, not leaked") {
  Pair p;
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  sys::UniqueFd read_end(pipe_fds[0]);
  const char one = 'x';
  send_raw(p.a.get(), &one, 1, pipe_fds[1]);
  ::close(pipe_fds[1]);  // now the only write end is the one in flight
  auto got = jail::recv_msg(p.b.get());
  REQUIRE_FALSE(got);
  CHECK(got.error().code == EPROTO);
  // recv_msg closed the write end it received: the pipe reads EOF rather than blocking.
  REQUIRE(::fcntl(read_end.get(), F_SETFL, O_NONBLOCK) == 0);
  char c;
  CHECK(::read(read_end.get(), &c, 1) == 0);
}

TEST_CASE("sync: send_msg to a closed peer returns -EPIPE instead of raising SIGPIPE") {
  Pair p;
  p.b.reset();
  CHECK(jail::send_msg(p.a.get(), Msg{}) == -EPIPE);
  CHECK(jail::send_msg(-1, Msg{}) == -EBADF);
}
