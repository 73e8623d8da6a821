// One refused system call as the listener recorded it (notify.h); the report lists these.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aj::seccomp {

struct Violation {
  std::string syscall;
  int nr = 0;
  std::vector<uint64_t> args;  // as many as the call takes
  int pid = 0;                 // inside the jail; 0 when the task was gone before it could be named
  std::string action;          // "errno" | "kill" | "log"
  uint64_t count = 1;          // refusals of this call by this pid folded into the entry (args: the first's)
};

}  // namespace aj::seccomp
