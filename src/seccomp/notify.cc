#include "seccomp/notify.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "syscalls/names.h"
#include "sys/files.h"

namespace aj::seccomp {
using syscalls::syscall_arg_count;
using syscalls::syscall_name;
namespace {

// Kernels 5.0-5.16 define SECCOMP_IOCTL_NOTIF_ID_VALID with the wrong direction bit; 5.17
// fixed the header and still accepts the old number.
constexpr unsigned long kIdValidLegacy = SECCOMP_IOR(2, __u64);

int ioctl_retry(int fd, unsigned long request, void* arg) {
  int rc;
  do rc = ::ioctl(fd, request, arg);
  while (rc < 0 && errno == EINTR);
  return rc;
}

// True while notification `id` is pending, i.e. the task that raised it is still blocked in it.
bool id_valid(int fd, uint64_t id) {
  if (ioctl_retry(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0) return true;
  if (errno == EINVAL || errno == ENOTTY) return ioctl_retry(fd, kIdValidLegacy, &id) == 0;
  return false;
}

// The innermost pid from "NSpid:\t4242\t7" in /proc/PID/status: the task's pid in the jail.
int innermost_pid(std::string_view status) {
  auto at = status.find("\nNSpid:");
  if (at == std::string_view::npos) return 0;
  std::string_view line = status.substr(at + 7);
  line = line.substr(0, line.find('\n'));
  auto end = line.find_last_not_of(" \t");
  if (end == std::string_view::npos) return 0;
  line = line.substr(0, end + 1);
  auto start = line.find_last_of(" \t");
  std::string_view digits = start == std::string_view::npos ? line : line.substr(start + 1);
  int pid = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  return ec == std::errc() && ptr == digits.data() + digits.size() ? pid : 0;
}

}  // namespace

bool notify_supported() {
  // API level 6 means the kernel has SECCOMP_RET_USER_NOTIF, its listener ioctls, the
  // CONTINUE flag (5.5) and TSYNC with listeners (5.7); libseccomp probes it once.
  return seccomp_api_get() >= 6;
}

Listener::Listener(sys::UniqueFd fd, plan::FilterAction action, int errno_value)
    : fd_(std::move(fd)), action_(action), errno_value_(errno_value) {
  seccomp_notif_sizes sizes{};
  size_t request = sizeof(seccomp_notif), response = sizeof(seccomp_notif_resp);
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0) {
    request = std::max<size_t>(request, sizes.seccomp_notif);
    response = std::max<size_t>(response, sizes.seccomp_notif_resp);
  }
  request_.resize(request);
  response_.resize(response);
}

Result<Listener::Event> Listener::handle_one() {
  // poll() first: RECV blocks when nothing is pending, and the supervisor's loop must not.
  pollfd pfd{fd_.get(), POLLIN, 0};
  int ready;
  do ready = ::poll(&pfd, 1, 0);
  while (ready < 0 && errno == EINTR);
  if (ready < 0) return fail_errno("poll the seccomp listener");
  if (!(pfd.revents & POLLIN)) return (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) ? Event::closed : Event::none;

  std::fill(request_.begin(), request_.end(), 0);  // the kernel refuses a dirty buffer
  auto* request = reinterpret_cast<seccomp_notif*>(request_.data());
  if (ioctl_retry(fd_.get(), SECCOMP_IOCTL_NOTIF_RECV, request) < 0) {
    if (errno == ENOENT) return Event::none;  // the task was killed or interrupted meanwhile
    return fail_errno("receive a seccomp notification");
  }

  Violation violation;
  violation.syscall = syscall_name(request->data.arch, request->data.nr);
  violation.nr = request->data.nr;
  int count = syscall_arg_count(violation.syscall).value_or(6);
  violation.args.assign(request->data.args, request->data.args + count);
  violation.pid = jail_pid(static_cast<int>(request->pid), request->id);
  violation.action = plan::to_string(action_);

  if (action_ == plan::FilterAction::kill) {
    // Never answered: the refused call must not return into the jail. The caller kills it.
    record(std::move(violation));
    return Event::kill_jail;
  }

  std::fill(response_.begin(), response_.end(), 0);
  auto* response = reinterpret_cast<seccomp_notif_resp*>(response_.data());
  response->id = request->id;
  if (action_ == plan::FilterAction::log) {
    // Only calls outside the allowlist arrive in log mode: the always-denied ones and the
    // forbidden arguments get a kernel errno from the filter and never reach a listener.
    response->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else {
    response->error = -errno_value_;
  }
  if (ioctl_retry(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, response) < 0 && errno != ENOENT)
    return fail_errno("answer a seccomp notification");  // ENOENT: the task is gone, nothing to answer
  record(std::move(violation));
  return Event::recorded;
}

int Listener::jail_pid(int host_pid, uint64_t id) const {
  if (host_pid <= 0) return 0;  // the task is not visible from our pid namespace
  auto status = sys::read_file("/proc/" + std::to_string(host_pid) + "/status");
  // Read first, validate after: while the notification is pending its task cannot exit, so
  // its pid cannot have been recycled for the process whose status we just read.
  if (!status || !id_valid(fd_.get(), id)) return 0;
  return innermost_pid(*status);
}

void Listener::record(Violation violation) {
  auto key = std::make_tuple(violation.syscall, violation.nr, violation.pid);
  if (auto it = index_.find(key); it != index_.end()) {
    ++violations_[it->second].count;
    return;
  }
  if (violations_.size() >= kMaxViolations) {
    ++dropped_;
    return;
  }
  violation.count = 1;
  index_.emplace(std::move(key), violations_.size());
  violations_.push_back(std::move(violation));
}

}  // namespace aj::seccomp
