// Bounded capture of one output stream: keeps the first `cap` bytes, counts the rest, so
// agentjail's memory stays flat however much the command writes.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "report/report.h"
#include "sys/fd.h"

namespace aj::supervise {

class BoundedCapture {
 public:
  BoundedCapture(sys::UniqueFd read_end, uint64_t cap) : fd_(std::move(read_end)), cap_(cap) {}
  int fd() const { return fd_.get(); }
  bool open() const { return fd_.valid(); }
  // Reads what is available (the fd is non-blocking); closes it at EOF.
  Status drain();
  const report::Capture& result() const { return capture_; }

 private:
  sys::UniqueFd fd_;
  uint64_t cap_;
  report::Capture capture_;
};

}  // namespace aj::supervise
