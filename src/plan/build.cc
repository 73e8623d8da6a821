// plan::build: the one place where the policy, the host and the command line meet.
#include <sched.h>
#include <sys/capability.h>
#include <sys/resource.h>

#include <cmath>

#include "plan/build.h"

#include "limits/table.h"
#include "plan/budgets.h"
#include "plan/identity.h"
#include "plan/cwd_args.h"
#include "plan/landlock.h"
#include "plan/mounts.h"
#include "plan/workspace.h"
#include "plan/network.h"

namespace aj::plan {
namespace {

constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";
// Per-user kernel budgets a jail gets (see rlimits_for): ample for programs, a small share
// of a host's (Linux: RLIMIT_SIGPENDING ~ RAM / 256 KiB signals; RLIMIT_MSGQUEUE: budgets.h).
constexpr uint64_t kJailSigpending = 1024;

uint64_t clone_flags_for(const policy::Namespaces& ns) {
  // user, mount and pid are not optional (policy validation refuses false): the fresh root,
  // the id mapping and the kill-everything-at-the-end guarantee are built on them.
  uint64_t flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID;
  if (ns.ipc) flags |= CLONE_NEWIPC;
  if (ns.uts) flags |= CLONE_NEWUTS;
  if (ns.net) flags |= CLONE_NEWNET;
  if (ns.cgroup) flags |= CLONE_NEWCGROUP;
  return flags;
}

std::vector<std::string> environment(const policy::Process& process,
                                     const std::map<std::string, std::string>& caller_env, std::string* path) {
  // The environment starts empty: the policy's env, then pass_env names the caller has set.
  std::map<std::string, std::string> env = process.env;
  for (const auto& name : process.pass_env) {
    auto it = caller_env.find(name);
    if (it != caller_env.end()) env[name] = it->second;
  }
  auto found = env.find("PATH");
  *path = found != env.end() ? found->second : kDefaultPath;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

Rlimit rlimit(int resource, const char* name, uint64_t value) { return {resource, name, value, value}; }

std::vector<Rlimit> rlimits_for(const Limits& limits, const CgroupPlan& cgroup, const Budgets& budgets) {
  // "unlimited" leaves the caller's own limit in place: raising a hard limit needs privileges
  // agentjail does not use.
  std::vector<Rlimit> out;
  // The limits an rlimit alone enforces: one row each in limits/table.h.
  for (const auto& row : limits::kTable)
    if (row.enforcement == limits::Enforcement::rlimit)
      if (auto value = limits::get(limits, row))
        out.push_back(rlimit(row.rlimit, row.rlimit_name, std::get<uint64_t>(*value)));
  if (limits.cpu_time_ms) {
    // Per process, a backstop to the whole-jail limit the supervisor enforces from the cgroup
    // (or the only CPU limit without one): SIGXCPU at the soft limit, SIGKILL a second later.
    uint64_t seconds = std::max<uint64_t>(1, (*limits.cpu_time_ms + 999) / 1000);
    out.push_back({RLIMIT_CPU, "RLIMIT_CPU", seconds, seconds + 1});
  }
  if (cgroup.rlimit_as && limits.memory_bytes) out.push_back(rlimit(RLIMIT_AS, "RLIMIT_AS", *limits.memory_bytes));
  if (cgroup.rlimit_nproc && limits.pids) out.push_back(rlimit(RLIMIT_NPROC, "RLIMIT_NPROC", *limits.pids));
  // Not policy keys: the kernel counts queued signals and POSIX message queue bytes per user,
  // and charges a user namespace's use to its owner too (agentjail's caller: root, when root
  // runs it). Unbounded, a jail could take the caller's whole budget for the run, and root's
  // timers and signal queues on the host would fail with EAGAIN.
  out.push_back(rlimit(RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING", kJailSigpending));
  out.push_back(rlimit(RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", budgets.msgqueue_bytes));
  return out;
}

// The /proc/sys/user limits are per user namespace, and the jail's is new: what the init writes
// binds the jail alone. inotify counts per user and is charged to the namespace's owner too
// (root, when root runs agentjail): left at the host's values, one jail could take root's every
// inotify instance; plan/budgets.h shares them out. No nested user namespace either (seccomp
// already refuses them; without one the jail can create no other namespace, capability-less as
// it is). A kernel without one of these files skips it.
Result<std::vector<int>> capability_values(const std::vector<std::string>& names) {
  std::vector<int> values;
  for (const auto& name : names) {
    cap_value_t value;
    if (cap_from_name(("cap_" + name).c_str(), &value) != 0)
      return fail(EINVAL, "capabilities.keep: unknown capability \"" + name + "\"");
    values.push_back(value);
  }
  return values;
}

}  // namespace

Result<Plan> build(const policy::Policy& policy, const host::Host& host, std::vector<std::string> argv,
                   const std::map<std::string, std::string>& caller_env) {
  if (argv.empty()) return fail(EINVAL, "no command given");
  if (argv[0].empty()) return fail(0, "the command's name is empty (\"\"): give a program to run after --");
  Plan plan;

  // Identity: exactly one uid and one gid of the host are visible in the jail.
  const auto& process = policy.process;
  std::vector<std::string> identity_warnings;
  if (auto decided = decide_identity(policy, host, plan, identity_warnings); !decided)
    return std::unexpected(decided.error());

  const Budgets budgets = jail_budgets(host);
  plan.userns_limits = userns_limits(budgets);

  plan.clone_flags = clone_flags_for(policy.namespaces);
  plan.network = network_mode(policy.network.mode);
  plan.loopback_up = plan.network == NetworkMode::loopback;
  if (policy.namespaces.uts) plan.hostname = process.hostname;
  plan.mounts = expand_mounts(policy.filesystem.mounts);
  plan_network_mounts(policy.network, plan);
  plan.cwd = process.cwd;
  if (auto ok = plan_workspace(policy, host, plan); !ok) return std::unexpected(ok.error());
  std::vector<std::string> mount_warnings;
  if (auto checked = check_host_kernel_binds(plan.mounts, mount_warnings); !checked)
    return std::unexpected(checked.error());

  plan.argv = std::move(argv);
  if (host.caller_cwd) {
    // After the workspace: it decides the cwd and may be what shows the files.
    auto unseen = unseen_cwd_args(*host.caller_cwd, plan);
    if (!unseen.empty()) plan.unseen_cwd_args_warning = unseen_cwd_args_warning(unseen, host.caller_cwd->path);
  }
  plan.env = environment(process, caller_env, &plan.path_env);
  plan.umask = process.umask;
  plan.new_session = process.new_session;
  plan_network(policy.network, plan);  // the broker's config and variables: before Landlock

  plan.limits = policy.limits;
  plan.cgroup = decide_cgroup(policy.limits, host);
  plan.rlimits = rlimits_for(plan.limits, plan.cgroup, budgets);
  if (plan.cgroup.kind == CgroupKind::v1 && plan.cgroup.memory) {
    auto memory = host.cgroup_v1.find("memory");
    plan.cgroup.memory_tcp = memory != host.cgroup_v1.end() && memory->second.kmem_tcp;
  }
  plan.warnings.insert(plan.warnings.begin(), plan.cgroup.warnings.begin(), plan.cgroup.warnings.end());
  plan.warnings.insert(plan.warnings.end(), mount_warnings.begin(), mount_warnings.end());
  plan.warnings.insert(plan.warnings.end(), identity_warnings.begin(), identity_warnings.end());
  std::string memfd_warning;
  plan.memfd_noexec = memfd_noexec_scope(host, plan.mounts, &memfd_warning);
  if (!memfd_warning.empty()) plan.warnings.push_back(memfd_warning);
  // Allowed for debugging, never silently: each shares a part of the host with the jail.
  if (!policy.namespaces.ipc)
    plan.warnings.push_back("namespaces.ipc = false: the jail shares the host's System V IPC objects and POSIX "
                            "message queues");
  if (!policy.namespaces.uts)
    plan.warnings.push_back("namespaces.uts = false: the jail shares the host's hostname and domain name "
                            "(process.hostname is not applied)");
  if (!policy.namespaces.cgroup)
    plan.warnings.push_back("namespaces.cgroup = false: the jail sees the host's cgroup paths in /proc/self/cgroup");

  // From the mounts as they will be, so it must follow every change to plan.mounts.
  auto landlock = decide_landlock(policy.landlock, plan.mounts, host, plan.warnings);
  if (!landlock) return std::unexpected(landlock.error());
  plan.landlock = std::move(*landlock);

  auto caps = capability_values(policy.capabilities.keep);
  if (!caps) return std::unexpected(caps.error());
  plan.keep_caps = std::move(*caps);

  if (!host.seccomp) return fail(ENOSYS, "this kernel has no seccomp filter support; agentjail will not run without it");
  plan.seccomp = seccomp_spec(policy, host.seccomp_notify);
  plan.seccomp.sync_fd = plan.child_sync_fd;
  if (policy.seccomp.notify && !host.seccomp_notify)
    plan.warnings.push_back("seccomp.notify: this kernel has no seccomp user notification; refused calls get errno "
                            "but are not listed in violations");
  return plan;
}

}  // namespace aj::plan
