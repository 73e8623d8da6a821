// The supervisor's side of SECCOMP_RET_USER_NOTIF: every call the filter refuses arrives here,
// is answered according to the policy and recorded for the report's "violations".
//
// Use: the command child installs a notify filter (filter.h) and passes the listener fd over
// the sync socket; the supervisor wraps it in a Listener, adds fd() to its poll() set and calls
// handle_one() each time poll() reports it readable (POLLIN, or POLLHUP once every filtered
// task is gone). handle_one() never blocks.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "base/error.h"
#include "plan/plan.h"
#include "seccomp/violation.h"
#include "sys/fd.h"

namespace aj::seccomp {

// Whether this kernel supports user notification well enough for every action: a listener
// (5.0), SECCOMP_USER_NOTIF_FLAG_CONTINUE for "log" (5.5) and filters with listeners in
// multi-threaded processes (5.7) — libseccomp's API level 6. Without it the planner installs a
// plain errno/kill/log filter and says in the report's warnings that violations are not listed.
bool notify_supported();

class Listener {
 public:
  // Distinct (syscall, action, pid) entries kept; refusals beyond are only counted (dropped()).
  static constexpr size_t kMaxViolations = 64;

  enum class Event {
    none,       // nothing to do (spurious wakeup, or the caller died before we read it)
    recorded,   // a refused call was answered and recorded
    kill_jail,  // default_action "kill": recorded and NOT answered; the caller must kill the whole jail
    closed,     // every filtered task is gone: stop polling fd()
  };

  // `action` and `errno_value` are the policy's seccomp.default_action and seccomp.errno.
  Listener(sys::UniqueFd fd, plan::FilterAction action, int errno_value);

  int fd() const { return fd_.get(); }
  // Reads at most one notification, answers it (errno: fails the call with errno_value; log:
  // lets it run; kill: leaves it blocked for the caller to kill) and records it.
  Result<Event> handle_one();

  // Refused calls in the order first seen: syscall name, nr, arguments (as many as the call
  // takes), pid inside the jail (0 when the task was gone before it could be named), action,
  // and how many refusals of that call by that pid were folded into the entry (the action is fixed;
  // the arguments are the first refusal's: most are pointers, so they are not compared).
  const std::vector<Violation>& violations() const { return violations_; }
  // Refusals not listed because kMaxViolations distinct entries were already kept.
  uint64_t dropped() const { return dropped_; }

 private:
  int jail_pid(int host_pid, uint64_t id) const;
  void record(Violation violation);

  sys::UniqueFd fd_;
  plan::FilterAction action_;
  int errno_value_;
  std::vector<unsigned char> request_;   // sized by SECCOMP_GET_NOTIF_SIZES: the kernel's struct may be larger
  std::vector<unsigned char> response_;
  std::vector<Violation> violations_;
  std::map<std::tuple<std::string, int, int>, size_t> index_;  // (syscall, nr, pid) -> violations_ entry
  uint64_t dropped_ = 0;
};

}  // namespace aj::seccomp
