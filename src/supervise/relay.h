// A relay between one of the caller's descriptors and a pipe of the jail's: for a standard
// stream the jail's uid could not reopen (plan/stdio.h). The supervisor's poll loop drives it;
// it never blocks (writes to the caller's descriptor go in pieces of PIPE_BUF once poll says it
// is writable, so neither a pipe's nor a file's write can stall the loop) and never changes the
// caller's file description (no O_NONBLOCK on it).
#pragma once

#include <poll.h>

#include <array>
#include <cstddef>

#include "sys/fd.h"

namespace aj::supervise {

class Relay {
 public:
  enum class Direction { to_jail, from_jail };
  // `ours`: our end of the jail's pipe (non-blocking); `callers`: the caller's descriptor.
  Relay(sys::UniqueFd ours, int callers, Direction direction)
      : ours_(std::move(ours)), callers_(callers), direction_(direction) {}

  bool done() const { return !ours_.valid(); }
  // The descriptor and events to poll now.
  pollfd wanted() const;
  // poll said `revents` for wanted(): move what can be moved.
  void on_ready(short revents);
  // Stops at once (what is buffered is dropped): the jail is gone (stdin), or the run was
  // ended (a SIGTERM) and the caller's reader must not hold agentjail up.
  void stop() { ours_.reset(); }
  Direction direction() const { return direction_; }

 private:
  void fill();
  void flush();

  sys::UniqueFd ours_;
  int callers_;
  Direction direction_;
  std::array<char, 4096> buffer_{};  // PIPE_BUF: a write of it to a writable pipe cannot block
  size_t start_ = 0, end_ = 0;
};

}  // namespace aj::supervise
