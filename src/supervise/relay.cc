#include "supervise/relay.h"

#include <cerrno>

namespace aj::supervise {

pollfd Relay::wanted() const {
  const bool have = start_ < end_;
  const int source = direction_ == Direction::from_jail ? ours_.get() : callers_;
  const int sink = direction_ == Direction::from_jail ? callers_ : ours_.get();
  if (have) return {sink, POLLOUT, 0};
  return {source, POLLIN, 0};
}

void Relay::on_ready(short revents) {
  if (done()) return;
  if (start_ < end_) {
    flush();
  } else if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
    fill();
  }
}

void Relay::fill() {
  const int source = direction_ == Direction::from_jail ? ours_.get() : callers_;
  ssize_t n = ::read(source, buffer_.data(), buffer_.size());
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    // End of the stream (or it failed): the jail's writers are all gone, or the caller's
    // stdin ended, which the jail then sees as the end of its own.
    ours_.reset();
    return;
  }
  start_ = 0;
  end_ = static_cast<size_t>(n);
}

void Relay::flush() {
  const int sink = direction_ == Direction::from_jail ? callers_ : ours_.get();
  ssize_t n = ::write(sink, buffer_.data() + start_, end_ - start_);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n < 0) {
    // The caller's reader went away (EPIPE) or the jail closed its stdin: what a direct write
    // would have met. Closing our end passes it on (the jail's next write gets EPIPE).
    ours_.reset();
    return;
  }
  start_ += static_cast<size_t>(n);
  if (start_ == end_) start_ = end_ = 0;
}

}  // namespace aj::supervise
