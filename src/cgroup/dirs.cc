// File-level operations on the jail's cgroup directories: create, write, read, kill, remove.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fmt/format.h>

#include "cgroup/parse.h"
#include "cgroup/layout.h"
#include "sys/files.h"
#include "sys/process.h"

namespace aj::cgroup::detail {
namespace {

constexpr double kKillBudgetMs = 2000;    // SIGKILLed tasks normally leave within milliseconds
constexpr double kRemoveBudgetMs = 1000;  // rmdir waits for exiting tasks to be released

// Sleeps a little longer each time, from 0.2 ms up to 20 ms.
class Backoff {
 public:
  void pause() {
    ::usleep(static_cast<useconds_t>(pause_us_));
    pause_us_ = std::min(pause_us_ * 2, 20'000);
  }

 private:
  int pause_us_ = 200;
};

}  // namespace

bool try_lock(int fd) { return ::flock(fd, LOCK_EX | LOCK_NB) == 0; }

Result<Dir> make_dir(const std::string& parent, const std::string& name) {
  Dir dir;
  dir.path = parent + "/" + name;
  if (::mkdir(dir.path.c_str(), 0755) != 0) return fail_errno("mkdir " + dir.path);
  dir.fd.reset(::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  // The lock says "alive" to remove_stale() in other agentjail processes, whatever our pid means there.
  if (!dir.fd || !try_lock(dir.fd.get())) {
    Error error{errno, (dir.fd ? "flock " : "open ") + dir.path};
    ::rmdir(dir.path.c_str());
    return std::unexpected(error);
  }
  return dir;
}

Status write_knob(const Dir& dir, const char* file, std::string_view value) {
  if (auto ok = sys::write_file_at(dir.fd.get(), file, value); !ok)
    return std::unexpected(Error{ok.error().code, fmt::format("write \"{}\" to {}/{}", value, dir.path, file)});
  return {};
}

std::optional<std::string> read_knob(const Dir& dir, const char* file) {
  auto text = sys::read_file_at(dir.fd.get(), file);
  if (!text) return std::nullopt;
  return *text;
}

bool has_knob(const Dir& dir, const char* file) { return ::faccessat(dir.fd.get(), file, F_OK, 0) == 0; }

Status kill_listed(const Dir& dir) {
  const double deadline = sys::monotonic_ms() + kKillBudgetMs;
  Backoff backoff;
  while (true) {
    auto listed = read_knob(dir, "cgroup.procs");
    if (!listed) return fail_errno("read " + dir.path + "/cgroup.procs");
    auto pids = parse_pids(*listed);
    if (pids.empty()) return {};
    // Open every pid first, then read the list again: a pidfd opened before a pid is seen in
    // the cgroup (again) refers to that very process or to one already dead, never to a
    // stranger that recycled the number.
    std::vector<std::pair<pid_t, sys::UniqueFd>> opened;
    for (pid_t pid : pids) {
      sys::UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
      if (fd) opened.emplace_back(pid, std::move(fd));
    }
    auto again = read_knob(dir, "cgroup.procs");
    const auto still = again ? parse_pids(*again) : std::vector<pid_t>{};
    for (const auto& [pid, fd] : opened)
      if (std::find(still.begin(), still.end(), pid) != still.end())
        (void)::syscall(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0);
    if (sys::monotonic_ms() > deadline)
      return fail(EBUSY, fmt::format("{} process(es) still in {} after SIGKILL", pids.size(), dir.path));
    backoff.pause();
  }
}

Status wait_empty(const Dir& dir) {
  const double deadline = sys::monotonic_ms() + kKillBudgetMs;
  Backoff backoff;
  while (true) {
    // v2 says "populated 0" once every task is gone; v1 has only the list.
    if (auto events = read_knob(dir, "cgroup.events")) {
      auto keys = parse_keyed(*events);
      if (keys.count("populated") && keys["populated"] == 0) return {};
    } else if (auto listed = read_knob(dir, "cgroup.procs"); listed && parse_pids(*listed).empty()) {
      return {};
    }
    if (sys::monotonic_ms() > deadline) return fail(EBUSY, "processes still in " + dir.path + " after cgroup.kill");
    backoff.pause();
  }
}

Status remove_dir(const std::string& path) {
  const double deadline = sys::monotonic_ms() + kRemoveBudgetMs;
  Backoff backoff;
  while (::rmdir(path.c_str()) != 0) {
    if (errno == ENOENT) return {};
    if (errno != EBUSY || sys::monotonic_ms() > deadline) return fail_errno("rmdir " + path);
    backoff.pause();
  }
  return {};
}

}  // namespace aj::cgroup::detail
