#include "jail/spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "jail/sync.h"
#include "sys/files.h"

namespace aj::jail {
namespace {

std::string map_line(const plan::IdMap& map) {
  return std::to_string(map.inside) + " " + std::to_string(map.outside) + " " + std::to_string(map.count) + "\n";
}

// newuidmap PID INSIDE OUTSIDE COUNT (or newgidmap): the setuid helper that writes a map of
// subordinate ids after checking them against /etc/subuid (/etc/subgid).
Status run_id_map_helper(const char* helper, pid_t pid, const plan::IdMap& map) {
  const std::string path = std::string("/usr/bin/") + helper;
  std::string args[] = {helper, std::to_string(pid), std::to_string(map.inside), std::to_string(map.outside),
                        std::to_string(map.count)};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), args[4].data(), nullptr};
  char* envp[] = {nullptr};
  pid_t child = -1;
  if (int rc = ::posix_spawn(&child, path.c_str(), nullptr, nullptr, argv, envp); rc != 0)
    return fail(rc, "run " + path);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return fail_errno("wait for " + path);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return fail(EPERM, path + " " + args[1] + " " + args[2] + " " + args[3] + " " + args[4] +
                         " failed (its message is above; /etc/subuid and /etc/subgid must grant these ids)");
}

Status write_id_maps(pid_t pid, const plan::Plan& plan) {
  if (plan.id_maps_by_helper) {
    if (auto ok = run_id_map_helper("newuidmap", pid, plan.uid_map); !ok) return ok;
    return run_id_map_helper("newgidmap", pid, plan.gid_map);
  }
  const std::string proc = "/proc/" + std::to_string(pid) + "/";
  // An unprivileged writer may map only its own ids, and only after giving up setgroups.
  if (plan.deny_setgroups)
    if (auto ok = sys::write_file(proc + "setgroups", "deny"); !ok) return ok;
  if (auto ok = sys::write_file(proc + "uid_map", map_line(plan.uid_map)); !ok) return ok;
  return sys::write_file(proc + "gid_map", map_line(plan.gid_map));
}

// vm.memfd_noexec is per pid namespace and only the host's root may write it, from inside the
// namespace it sets: a helper child joins the jail's pid namespace, and its own child (a
// member, briefly pid 2 there, before the command exists) writes the value.
Status set_memfd_noexec(int init_pidfd, int scope) {
  pid_t helper = ::fork();
  if (helper < 0) return fail_errno("fork");
  if (helper == 0) {
    if (::setns(init_pidfd, CLONE_NEWPID) != 0) ::_exit(1);
    pid_t member = ::fork();
    if (member < 0) ::_exit(2);
    if (member == 0) {
      int fd = ::open("/proc/sys/vm/memfd_noexec", O_WRONLY | O_CLOEXEC);
      if (fd < 0) ::_exit(3);
      char value = static_cast<char>('0' + scope);
      ::_exit(::write(fd, &value, 1) == 1 ? 0 : 4);
    }
    int status = 0;
    while (::waitpid(member, &status, 0) < 0)
      if (errno != EINTR) ::_exit(5);
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 6);
  }
  int status = 0;
  while (::waitpid(helper, &status, 0) < 0)
    if (errno != EINTR) return fail_errno("waitpid");
  static constexpr const char* kWhat[] = {"", "setns into the jail's pid namespace", "fork in the jail's pid namespace",
                                          "open /proc/sys/vm/memfd_noexec", "write /proc/sys/vm/memfd_noexec",
                                          "waitpid", "the helper was killed"};
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 6;
  if (code != 0) return fail(0, std::string("vm.memfd_noexec: ") + kWhat[code > 6 ? 6 : code]);
  return {};
}

std::string clone_hint(int err) {
  if (err == EPERM || err == ENOSPC || err == EUSERS)
    return " (user namespaces may be disabled here: see `agentjail doctor`)";
  return "";
}

Result<Jail> start(const plan::Plan& plan, plan::Plan* waiting_plan, const seccomp::Filter& filter,
                   cgroup::JailCgroup* cgroup, const Stdio& stdio, bool verbose,
                   std::span<const PreparedMount> prepared) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return fail_errno("socketpair");
  sys::UniqueFd ours(pair[0]), theirs(pair[1]);

  // How the child gets into its cgroup: v2 is born there (clone3 CLONE_INTO_CGROUP), v1 joins
  // by itself (the join-cgroup step), anything else is attached by pid before "go".
  const int cgroup_fd = cgroup ? cgroup->clone_fd() : -1;
  std::vector<sys::UniqueFd> join_fds;
  if (cgroup) {
    auto opened = cgroup->open_join_fds();  // empty unless v1
    if (!opened) return std::unexpected(opened.error().context("cgroup"));
    join_fds = std::move(*opened);
  }
  const bool attach_by_pid = cgroup && cgroup_fd < 0 && join_fds.empty();
  sys::UniqueFd pidfd;
  auto pid = sys::clone3_fork(plan.clone_flags, &pidfd, cgroup_fd);
  if (!pid) return std::unexpected(Error{pid.error().code, "clone3 into new namespaces" + clone_hint(pid.error().code)});
  if (*pid == 0) {
    // The jail. Single-threaded copy of us; it ends in execve or _exit, never returns.
    ours.reset();
    ChildContext ctx{plan, filter, stdio, verbose, theirs.release()};
    ctx.waiting_plan = waiting_plan;
    for (auto& fd : join_fds) ctx.cgroup_join_fds.push_back(fd.release());
    ctx.prepared = prepared;
    init_main(ctx);
  }

  Jail jail{sys::ScopedChild(*pid, std::move(pidfd)), std::move(ours)};
  theirs.reset();
  join_fds.clear();
  if (auto ok = write_id_maps(*pid, plan); !ok) return std::unexpected(ok.error().context("id maps"));
  if (attach_by_pid)
    if (auto ok = cgroup->attach(*pid); !ok) return std::unexpected(ok.error().context("cgroup"));
  if (plan.memfd_noexec > 0)
    if (auto ok = set_memfd_noexec(jail.init.pidfd(), plan.memfd_noexec); !ok) return std::unexpected(ok.error());
  Msg go;
  go.type = MsgType::go;
  if (int rc = send_msg(jail.sync.get(), go); rc < 0) return fail(-rc, "start the jail");
  return jail;
}

}  // namespace

Result<Jail> spawn(const plan::Plan& plan, const seccomp::Filter& filter, cgroup::JailCgroup* cgroup,
                   const Stdio& stdio, bool verbose, std::span<const PreparedMount> prepared) {
  return start(plan, nullptr, filter, cgroup, stdio, verbose, prepared);
}

Result<Jail> spawn_waiting(plan::Plan& plan, const seccomp::Filter& filter, cgroup::JailCgroup* cgroup,
                           bool verbose, std::span<const PreparedMount> prepared) {
  return start(plan, &plan, filter, cgroup, Stdio{}, verbose, prepared);
}

}  // namespace aj::jail
