#include "plan/budgets.h"

#include <sys/resource.h>

#include <algorithm>

namespace aj::plan {
namespace {

constexpr uint64_t kMaxInotifyInstances = 32;
constexpr uint64_t kMaxInotifyWatches = 8192;
constexpr uint64_t kMaxMsgqueueBytes = 64 * 1024;

// Half of `limit` (the caller keeps the other half) shared by `jails`, at most `most`.
uint64_t share(long long limit, unsigned jails, uint64_t most, uint64_t least) {
  if (limit < 0) return most;  // unknown: the kernel's own default bounds it
  const uint64_t each = static_cast<uint64_t>(limit) / 2 / std::max(1u, jails);
  return std::clamp(each, least, most);
}

}  // namespace

Budgets jail_budgets(const host::Host& host) {
  const unsigned jails = host.concurrent_jails;
  Budgets budgets;
  budgets.inotify_instances = share(host.max_inotify_instances, jails, kMaxInotifyInstances, 1);
  budgets.inotify_watches = share(host.max_inotify_watches, jails, kMaxInotifyWatches, 1);
  const long long queue_limit =
      host.msgqueue_bytes == 0 || host.msgqueue_bytes == RLIM_INFINITY ? -1 : static_cast<long long>(host.msgqueue_bytes);
  budgets.msgqueue_bytes = share(queue_limit, jails, kMaxMsgqueueBytes, 0);
  return budgets;
}

std::vector<Sysctl> userns_limits(const Budgets& budgets) {
  return {
      {"/proc/sys/user/max_inotify_instances", std::to_string(budgets.inotify_instances)},
      {"/proc/sys/user/max_inotify_watches", std::to_string(budgets.inotify_watches)},
      {"/proc/sys/user/max_user_namespaces", "0"},
  };
}

int memfd_noexec_scope(const host::Host& host, const std::vector<MountOp>& mounts, std::string* warning) {
  constexpr int kNoExecEnforced = 2;  // MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED
  if (host.memfd_noexec >= kNoExecEnforced) return 0;  // our own pid namespace has it already: inherited
  if (host.memfd_noexec >= 0 && host.is_root() && host.cap_sys_admin) return kNoExecEnforced;
  // A writable mount that allows exec runs the jail's own code anyway: no memfd needed.
  const bool writable_exec = std::any_of(mounts.begin(), mounts.end(), [](const MountOp& op) {
    return (op.kind == MountKind::bind || op.kind == MountKind::tmpfs) && !op.read_only && !op.noexec;
  });
  if (!writable_exec && warning)
    *warning = host.memfd_noexec < 0
                   ? "memfd_create: this kernel (< 6.3) has no vm.memfd_noexec: the jail can run code it wrote to a "
                     "memfd although every writable mount is noexec"
                   : "memfd_create: vm.memfd_noexec can be set only by root with CAP_SYS_ADMIN: the jail can run code it wrote to a memfd "
                     "although every writable mount is noexec (run agentjail as root, or set vm.memfd_noexec = 2 on "
                     "the host)";
  return 0;
}

}  // namespace aj::plan
