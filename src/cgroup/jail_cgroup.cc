// JailCgroup: the owner of the jail's cgroup directories, whatever the hierarchy.
#include <fcntl.h>
#include <sys/random.h>
#include <ctime>
#include <unistd.h>

#include <fmt/format.h>

#include "base/log.h"
#include "cgroup/cgroup.h"
#include "cgroup/parse.h"
#include "cgroup/layout.h"

namespace aj::cgroup {

struct JailCgroup::State : detail::Layout {};

namespace {

// 12 hex digits: the run id's when it is hex (so a directory leads to its report), else random.
std::string random_part(const std::string& id) {
  std::string part;
  for (char c : id) {
    if (part.size() == 12) break;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) part += c;
    else break;
  }
  if (part.size() == 12) return part;
  unsigned char bytes[6] = {};
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) {
    // getrandom on 6 bytes does not fail once the pool is initialized; mix in the time if it does.
    auto now = static_cast<uint64_t>(::getpid()) ^ static_cast<uint64_t>(std::time(nullptr));
    for (auto& b : bytes) b = static_cast<unsigned char>((now >>= 5) & 0xff);
  }
  for (unsigned char b : bytes) part += fmt::format("{:02x}", b);
  return part;
}

}  // namespace

JailCgroup::JailCgroup() : state_(std::make_unique<State>()) {}
JailCgroup::JailCgroup(JailCgroup&& other) noexcept = default;
JailCgroup& JailCgroup::operator=(JailCgroup&& other) noexcept {
  if (this != &other) {
    teardown();
    state_ = std::move(other.state_);
  }
  return *this;
}
JailCgroup::~JailCgroup() { teardown(); }

Result<JailCgroup> JailCgroup::create(const std::string& id, const Limits& limits,
                                      const plan::CgroupPlan& enforcement, const host::Host& host) {
  JailCgroup cgroup;  // from here on, whatever was created is removed on every return path
  const std::string name = jail_name(::getpid(), random_part(id));
  switch (enforcement.kind) {
    case CgroupKind::v2:
      if (auto ok = detail::create_v2(*cgroup.state_, name, limits, enforcement, host); !ok)
        return std::unexpected(ok.error().context("cgroup v2"));
      break;
    case CgroupKind::v1:
      if (auto ok = detail::create_v1(*cgroup.state_, name, limits, enforcement, host); !ok)
        return std::unexpected(ok.error().context("cgroup v1"));
      break;
    case CgroupKind::none: return fail(EINVAL, "no cgroup hierarchy is usable here");
  }
  for (const auto& path : cgroup.paths()) spdlog::debug("cgroup {}", path);
  return cgroup;
}

void JailCgroup::teardown() noexcept {
  if (!state_) return;
  if (!state_->dirs.empty()) {
    if (auto ok = kill_all(); !ok) log::error_line("cgroup: " + ok.error().what());
    // Children before parents does not arise (one level), but v1 order is kept reversed anyway.
    for (auto it = state_->dirs.rbegin(); it != state_->dirs.rend(); ++it)
      if (auto ok = detail::remove_dir(it->path); !ok)
        log::error_line("cgroup: " + ok.error().what() + " (a later run removes it once it is empty)");
  }
  // Not an error of the run: the leaf is empty once we exit, and systemd removes it with the scope.
  if (auto ok = detail::restore_self(*state_); !ok) spdlog::warn("cgroup: {}", ok.error().what());
  state_.reset();
}

CgroupKind JailCgroup::kind() const { return state_ ? state_->kind : CgroupKind::none; }

int JailCgroup::clone_fd() const {
  if (!state_ || state_->kind != CgroupKind::v2 || !state_->clone_into || state_->dirs.empty()) return -1;
  return state_->dirs[0].fd.get();
}

Status JailCgroup::attach(pid_t pid) {
  for (const auto& dir : state_->dirs)
    if (auto ok = detail::write_knob(dir, "cgroup.procs", std::to_string(pid)); !ok)
      return std::unexpected(ok.error().context(fmt::format("attach pid {}", pid)));
  return {};
}

Result<std::vector<sys::UniqueFd>> JailCgroup::open_join_fds() const {
  std::vector<sys::UniqueFd> fds;
  if (!state_ || state_->kind != CgroupKind::v1) return fds;
  for (const auto& dir : state_->dirs) {
    int fd = ::openat(dir.fd.get(), "tasks", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail_errno("open " + dir.path + "/tasks");
    fds.emplace_back(fd);
  }
  return fds;
}

std::optional<double> JailCgroup::cpu_ms() const {
  if (!state_ || state_->dirs.empty()) return std::nullopt;
  return state_->kind == CgroupKind::v2 ? detail::cpu_ms_v2(*state_) : detail::cpu_ms_v1(*state_);
}

Usage JailCgroup::usage() const {
  if (!state_ || state_->dirs.empty()) return {};
  return state_->kind == CgroupKind::v2 ? detail::usage_v2(*state_) : detail::usage_v1(*state_);
}

Status JailCgroup::kill_all() {
  if (!state_ || state_->dirs.empty()) return {};
  if (state_->kind == CgroupKind::v2 && state_->has_kill) {
    // Atomic against forks racing the kill, unlike any loop over cgroup.procs.
    if (auto ok = detail::write_knob(state_->dirs[0], "cgroup.kill", "1"); !ok) return ok;
    return detail::wait_empty(state_->dirs[0]);
  }
  // v1 (every process is in each hierarchy's directory) or v2 before 5.14.
  for (const auto& dir : state_->dirs)
    if (auto ok = detail::kill_listed(dir); !ok) return ok;
  return {};
}

std::vector<std::string> JailCgroup::paths() const {
  std::vector<std::string> out;
  if (state_)
    for (const auto& dir : state_->dirs) out.push_back(dir.path);
  return out;
}

}  // namespace aj::cgroup
