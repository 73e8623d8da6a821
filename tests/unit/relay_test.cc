// supervise/relay.h: the copy loop between a jail's pipe and a caller's descriptor.
#include "supervise/relay.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>

using namespace aj;

namespace {

struct Pipe {
  int read_end = -1, write_end = -1;
  Pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    read_end = fds[0];
    write_end = fds[1];
  }
};

// Drives the relay as the supervisor does, until it is done or makes no progress.
void pump(supervise::Relay& relay) {
  for (int i = 0; i < 10000 && !relay.done(); ++i) {
    pollfd want = relay.wanted();
    if (::poll(&want, 1, 100) <= 0) return;
    relay.on_ready(want.revents);
  }
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

}  // namespace

TEST_CASE("relay: the jail's output reaches the caller whole, and the relay ends with its pipe") {
  Pipe jail, caller;
  ::fcntl(jail.read_end, F_SETFL, O_NONBLOCK);
  supervise::Relay relay(sys::UniqueFd(jail.read_end), caller.write_end, supervise::Relay::Direction::from_jail);
  const std::string text(10000, 'x');  // more than one piece
  REQUIRE(::write(jail.write_end, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(jail.write_end);  // the jail's last writer is gone
  pump(relay);
  CHECK(relay.done());
  ::close(caller.write_end);
  CHECK(read_all(caller.read_end) == text);
  ::close(caller.read_end);
}

TEST_CASE("relay: a caller's reader that went away ends the relay, and the jail then gets EPIPE") {
  ::signal(SIGPIPE, SIG_IGN);  // as agentjail has it
  Pipe jail, caller;
  ::fcntl(jail.read_end, F_SETFL, O_NONBLOCK);
  supervise::Relay relay(sys::UniqueFd(jail.read_end), caller.write_end, supervise::Relay::Direction::from_jail);
  ::close(caller.read_end);
  REQUIRE(::write(jail.write_end, "hello", 5) == 5);
  pump(relay);
  CHECK(relay.done());
  CHECK(::write(jail.write_end, "again", 5) < 0);
  CHECK(errno == EPIPE);
  ::close(jail.write_end);
  ::close(caller.write_end);
}

TEST_CASE("relay: the caller's stdin reaches the jail, its end is the jail's end of input") {
  Pipe caller, jail;
  ::fcntl(jail.write_end, F_SETFL, O_NONBLOCK);
  supervise::Relay relay(sys::UniqueFd(jail.write_end), caller.read_end, supervise::Relay::Direction::to_jail);
  REQUIRE(::write(caller.write_end, "input\n", 6) == 6);
  ::close(caller.write_end);
  pump(relay);
  CHECK(relay.done());
  CHECK(read_all(jail.read_end) == "input\n");
  ::close(jail.read_end);
  ::close(caller.read_end);
}

TEST_CASE("relay: stop() drops what is buffered and lets go of the jail's pipe at once") {
  Pipe caller, jail;
  ::fcntl(jail.write_end, F_SETFL, O_NONBLOCK);
  supervise::Relay relay(sys::UniqueFd(jail.write_end), caller.read_end, supervise::Relay::Direction::to_jail);
  CHECK_FALSE(relay.done());
  relay.stop();
  CHECK(relay.done());
  char byte;
  CHECK(::read(jail.read_end, &byte, 1) == 0);  // EOF: our write end is closed
  ::close(jail.read_end);
  ::close(caller.read_end);
  ::close(caller.write_end);
}
