#include "plan/identity.h"

#include <fmt/format.h>

namespace aj::plan {
namespace {

constexpr uint32_t kNobody = 65534;

}  // namespace

bool needs_id_lease(const policy::Process& process, const host::Host& host) {
  return host.is_root() && (!process.host_user || !process.host_group);
}

Status decide_identity(const policy::Process& process, const host::Host& host, Plan& plan,
                       std::vector<std::string>& warnings) {
  // Exactly one uid and one gid of the host are visible in the jail.
  plan.caller_is_root = host.is_root();
  plan.jail_uid = process.user;
  plan.jail_gid = process.group;
  if (!plan.caller_is_root) {
    // An unprivileged user namespace may map only the caller's own ids.
    plan.uid_map = {process.user, static_cast<uint32_t>(host.euid), 1};
    plan.gid_map = {process.group, static_cast<uint32_t>(host.egid), 1};
    plan.deny_setgroups = true;  // the kernel's condition for an unprivileged gid_map
    plan.host_ids = HostIds::caller;
    std::string why = host.subuids.empty() || host.subgids.empty()
                          ? "the caller has no subordinate ids in /etc/subuid and /etc/subgid"
                          : (host.newidmap_tools ? "agentjail does not map subordinate ids"
                                                 : "newuidmap and newgidmap (the uidmap package) are not installed");
    warnings.push_back(fmt::format(
        "host ids: the jail runs as the caller's own uid {} and gid {} on the host ({}): the caller's other "
        "processes can signal it, and it shares that user's kernel budgets (see agentjail doctor)",
        host.euid, host.egid, why));
    return {};
  }

  plan.clear_groups = true;
  // The policy's choice wins, each of the two on its own: host_group alone shares a group
  // (for files) while the uid, which signals and kernel budgets go by, stays the jail's own.
  if (needs_id_lease(process, host) && !host.leased_id)
    return fail(EINVAL, "run by root without process.host_user, but no host uid was leased");
  const uint32_t uid = process.host_user ? *process.host_user : *host.leased_id;
  const uint32_t gid = process.host_group ? *process.host_group : *host.leased_id;
  plan.uid_map = {process.user, uid, 1};
  plan.gid_map = {process.group, gid, 1};
  plan.host_ids = process.host_user ? HostIds::policy : HostIds::leased;
  if (uid == kNobody || gid == kNobody)
    warnings.push_back("process.host_user: 65534 is the host's nobody: every process running as nobody can signal "
                       "this jail, and every jail with this policy shares its uid and kernel budgets (leave "
                       "host_user out for a uid of the jail's own)");
  return {};
}

}  // namespace aj::plan
