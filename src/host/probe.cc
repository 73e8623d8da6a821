// host::probe(): cheap reads of /proc and /sys plus harmless queries; it runs on every `run`.
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/strings.h"
#include "host/cgroups.h"
#include "host/host.h"
#include "host/procfs.h"
#include "sys/files.h"
#include "sys/landlock.h"

namespace aj::host {
namespace {

std::optional<long> read_sysctl(const char* path) {
  auto text = sys::read_file(path);
  if (!text) return std::nullopt;
  std::string_view value = trim(*text);
  long number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;  // treated as absent
  return number;
}

void probe_userns(Host& host) {
  // Who may create user namespaces: user.max_user_namespaces (everyone, 0 = nobody),
  // Debian's kernel.unprivileged_userns_clone and Ubuntu's AppArmor restriction (ordinary
  // users only; root keeps CAP_SYS_ADMIN and passes both).
  const auto max_namespaces = read_sysctl("/proc/sys/user/max_user_namespaces");
  const auto debian_clone = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
  const auto apparmor = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  std::vector<std::string> problems;
  bool anyone = true;
  if (max_namespaces && *max_namespaces == 0) {
    anyone = false;
    problems.push_back("user.max_user_namespaces is 0: nobody may create user namespaces "
                       "(fix: sysctl -w user.max_user_namespaces=15000)");
  }
  bool unprivileged = anyone;
  if (debian_clone && *debian_clone == 0) {
    unprivileged = false;
    problems.push_back("kernel.unprivileged_userns_clone is 0: only root may create user namespaces "
                       "(fix: sysctl -w kernel.unprivileged_userns_clone=1)");
  }
  if (apparmor && *apparmor != 0) {
    unprivileged = false;
    problems.push_back("kernel.apparmor_restrict_unprivileged_userns is 1: ordinary users need an AppArmor "
                       "profile with the userns permission (fix: a profile for agentjail with `userns,`, or "
                       "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0)");
  }
  host.unprivileged_userns = unprivileged;
  host.userns = host.is_root() ? anyone : unprivileged;
  host.userns_problem = join(problems, "; ");
}

void probe_seccomp(Host& host) {
  // SECCOMP_GET_ACTION_AVAIL only answers; it installs nothing.
  auto available = [](uint32_t action) {
    return ::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
  };
  host.seccomp = available(SECCOMP_RET_ERRNO);
  host.seccomp_notify = host.seccomp && available(SECCOMP_RET_USER_NOTIF);
}

// The caller's name, from /etc/passwd (a static binary has no NSS): subordinate ids are
// granted by name or by number.
std::string user_name(uid_t uid) {
  auto passwd = sys::read_file("/etc/passwd");
  if (!passwd) return "";
  const std::string id = std::to_string(uid);
  for (const auto& line : split(*passwd, '\n')) {
    auto fields = split(line, ':');
    if (fields.size() >= 3 && fields[2] == id) return fields[0];
  }
  return "";
}

void probe_subids(Host& host) {
  const std::string name = user_name(host.euid);
  if (auto text = sys::read_file("/etc/subuid")) host.subuids = subid_ranges_of(*text, name, host.euid);
  if (auto text = sys::read_file("/etc/subgid")) host.subgids = subid_ranges_of(*text, name, host.euid);
  host.newidmap_tools = have_newidmap_tools();
}

void probe_budgets(Host& host) {
  host.max_inotify_instances = read_sysctl("/proc/sys/user/max_inotify_instances").value_or(-1);
  host.max_inotify_watches = read_sysctl("/proc/sys/user/max_inotify_watches").value_or(-1);
  if (auto scope = read_sysctl("/proc/sys/vm/memfd_noexec")) host.memfd_noexec = static_cast<int>(*scope);
  // CapEff of /proc/self/status, in hex: bit 21 is CAP_SYS_ADMIN.
  if (auto status = sys::read_file("/proc/self/status")) {
    auto at = status->find("CapEff:\t");
    if (at != std::string::npos) {
      uint64_t caps = 0;
      const char* begin = status->data() + at + 8;
      std::from_chars(begin, status->data() + status->size(), caps, 16);
      host.cap_sys_admin = (caps >> 21) & 1;
    }
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_MSGQUEUE, &limit) == 0) host.msgqueue_bytes = limit.rlim_cur;
}

}  // namespace

bool Host::kernel_at_least(int major, int minor) const {
  return kernel_major > major || (kernel_major == major && kernel_minor >= minor);
}

Host probe() {
  Host host;
  host.uid = ::getuid();
  host.euid = ::geteuid();
  host.gid = ::getgid();
  host.egid = ::getegid();
  host.pid = ::getpid();
  struct utsname names{};
  if (::uname(&names) == 0) host.kernel = names.release;
  std::tie(host.kernel_major, host.kernel_minor) = parse_kernel_version(host.kernel);

  probe_userns(host);
  auto mountinfo = sys::read_file("/proc/self/mountinfo");
  auto self_cgroup = sys::read_file("/proc/self/cgroup");
  probe_cgroups(host, mountinfo ? parse_cgroup_mounts(*mountinfo) : std::vector<CgroupMount>{},
                self_cgroup ? parse_proc_cgroup(*self_cgroup) : std::vector<ProcCgroupLine>{});
  if (auto meminfo = sys::read_file("/proc/meminfo")) host.swap_total_bytes = parse_swap_total(*meminfo);
  probe_seccomp(host);
  host.landlock_abi = sys::landlock::abi_version();
  if (!host.is_root()) probe_subids(host);
  probe_budgets(host);
  return host;
}

std::string try_user_namespace(int as_uid) {
  pid_t child = ::fork();
  if (child < 0) return "fork: " + errno_text(errno);
  if (child == 0) {
    if (as_uid >= 0) {
      const auto id = static_cast<uid_t>(as_uid);
      if (::setgroups(0, nullptr) != 0 || ::setresgid(id, id, id) != 0 || ::setresuid(id, id, id) != 0) ::_exit(255);
    }
    ::_exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : (errno & 0xff));
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return "waitpid: " + errno_text(errno);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 255) return "could not become uid " + std::to_string(as_uid);
  if (WIFEXITED(status)) return "unshare(CLONE_NEWUSER): " + errno_text(WEXITSTATUS(status));
  return "unshare(CLONE_NEWUSER): the test process was killed by signal " + std::to_string(WTERMSIG(status));
}

}  // namespace aj::host
