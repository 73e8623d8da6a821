// Bounded capture of one output stream: keeps the first `cap` bytes, counts the rest, so
// agentjail's memory stays flat however much the command writes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "sys/fd.h"

namespace aj::supervise {

// One captured stream (--json mode).
struct Capture {
  std::string kept;        // the first limits.output bytes, as produced
  uint64_t total = 0;      // bytes the command wrote in all
  bool truncated() const { return total > kept.size(); }
};

class BoundedCapture {
 public:
  BoundedCapture(sys::UniqueFd read_end, uint64_t cap) : fd_(std::move(read_end)), cap_(cap) {}
  int fd() const { return fd_.get(); }
  bool open() const { return fd_.valid(); }
  // Reads what is available (the fd is non-blocking); closes it at EOF.
  Status drain();
  const Capture& result() const { return capture_; }
  // Called with each chunk as it is kept (never past the cap): `agentjail serve` streams it.
  void on_kept(std::function<void(std::string_view)> tee) { tee_ = std::move(tee); }

 private:
  sys::UniqueFd fd_;
  uint64_t cap_;
  Capture capture_;
  std::function<void(std::string_view)> tee_;
};

}  // namespace aj::supervise
