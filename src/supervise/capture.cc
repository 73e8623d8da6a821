#include "supervise/capture.h"

#include <unistd.h>

#include <algorithm>

namespace aj::supervise {

Status BoundedCapture::drain() {
  char buf[64 * 1024];
  // A bounded number of reads per call keeps one chatty stream from starving the others.
  for (int round = 0; round < 16 && fd_; ++round) {
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return {};
    if (n < 0) return fail_errno("read captured output");
    if (n == 0) {
      fd_.reset();
      return {};
    }
    const auto got = static_cast<uint64_t>(n);
    if (capture_.kept.size() < cap_) {
      const uint64_t room = cap_ - capture_.kept.size();
      const auto kept = static_cast<size_t>(std::min(room, got));
      capture_.kept.append(buf, kept);
      if (tee_) tee_(std::string_view(buf, kept));
    }
    capture_.total += got;
  }
  return {};
}

}  // namespace aj::supervise
