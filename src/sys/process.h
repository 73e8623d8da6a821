// Starting and owning child processes: clone3 with a pidfd, and an owner that kills and
// reaps the child unless told otherwise, so no process outlives an error path.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/error.h"
#include "sys/fd.h"

namespace aj::sys {

// "SIGKILL" for 9; "SIG42" for numbers without a name.
std::string signal_name(int signal);

// clone3(flags | CLONE_PIDFD, exit_signal SIGCHLD[, cgroup]) used like fork(): returns 0 in
// the child and the child's pid in the parent, with its pidfd in *pidfd. cgroup_fd >= 0 adds
// CLONE_INTO_CGROUP so the child never runs a single instruction outside that cgroup.
Result<pid_t> clone3_fork(uint64_t flags, UniqueFd* pidfd, int cgroup_fd);

// How a process ended, from waitid/wait4.
struct WaitResult {
  int status = 0;          // as from waitpid(): WIFEXITED/WIFSIGNALED apply
  struct rusage usage {};  // the process and every descendant it reaped
};

// Owns a child process through its pidfd. The destructor SIGKILLs and reaps it unless
// it was already reaped.
class ScopedChild {
 public:
  ScopedChild() = default;
  ScopedChild(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  ScopedChild(ScopedChild&& other) noexcept;
  ScopedChild& operator=(ScopedChild&& other) noexcept;
  ~ScopedChild();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool running() const { return pid_ > 0; }
  // Sends `signal` through the pidfd (no pid-reuse race). Harmless if it already exited.
  void kill(int signal) const;
  // Blocks until the child has exited and reaps it.
  Result<WaitResult> wait();

 private:
  pid_t pid_ = 0;
  UniqueFd pidfd_;
};

// CLOCK_MONOTONIC in milliseconds, as a double.
double monotonic_ms();

// Where the kernel put our argv strings (main calls it first; the one piece of process-wide
// state here, as in setproctitle). /proc/PID/cmdline shows that memory to anyone who can see
// the process, the jailed code included.
void remember_argv(int argc, char** argv);
// Overwrites the remembered argv strings with `title` and NULs, so /proc/PID/cmdline no longer
// shows the command line (host paths, --env values). For the jail's init, after fork.
void overwrite_argv(const char* title);

}  // namespace aj::sys
