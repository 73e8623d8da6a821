#include "sys/process.h"

#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>

namespace aj::sys {

Result<pid_t> clone3_fork(uint64_t flags, UniqueFd* pidfd, int cgroup_fd) {
  int raw_pidfd = -1;
  clone_args args{};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&raw_pidfd);
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  long ret = ::syscall(SYS_clone3, &args, sizeof args);
  if (ret < 0) return fail_errno("clone3");
  if (ret == 0) return 0;
  pidfd->reset(raw_pidfd);
  return static_cast<pid_t>(ret);
}

ScopedChild::ScopedChild(ScopedChild&& other) noexcept
    : pid_(std::exchange(other.pid_, 0)), pidfd_(std::move(other.pidfd_)) {}

ScopedChild& ScopedChild::operator=(ScopedChild&& other) noexcept {
  if (this != &other) {
    this->~ScopedChild();
    pid_ = std::exchange(other.pid_, 0);
    pidfd_ = std::move(other.pidfd_);
  }
  return *this;
}

ScopedChild::~ScopedChild() {
  if (pid_ <= 0) return;
  kill(SIGKILL);
  (void)wait();
}

void ScopedChild::kill(int signal) const {
  // Raw syscall: bookworm's <sys/pidfd.h> lacks extern "C", so its wrapper cannot be linked from C++.
  if (pid_ > 0 && pidfd_) (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0);
}

Result<WaitResult> ScopedChild::wait() {
  if (pid_ <= 0) return fail(ECHILD, "wait: no child");
  WaitResult result;
  while (true) {
    pid_t got = ::wait4(pid_, &result.status, __WALL, &result.usage);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail_errno("wait4 " + std::to_string(pid_));
    pid_ = 0;
    return result;
  }
}

double monotonic_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

namespace {
// [argv[0], end of the last argument): the kernel lays the strings out back to back.
char* g_argv_begin = nullptr;
char* g_argv_end = nullptr;
}  // namespace

void remember_argv(int argc, char** argv) {
  if (argc < 1 || !argv || !argv[0]) return;
  g_argv_begin = argv[0];
  g_argv_end = argv[argc - 1] + std::strlen(argv[argc - 1]) + 1;
}

void overwrite_argv(const char* title) {
  if (!g_argv_begin) return;
  const size_t room = static_cast<size_t>(g_argv_end - g_argv_begin);
  std::memset(g_argv_begin, 0, room);
  std::strncpy(g_argv_begin, title, room - 1);  // always NUL-terminated: room - 1 at most
}

std::string signal_name(int signal) {
  if (const char* abbrev = sigabbrev_np(signal)) return std::string("SIG") + abbrev;
  return "SIG" + std::to_string(signal);
}

}  // namespace aj::sys
