#include "plan/identity.h"

#include <fmt/format.h>

#include <algorithm>

namespace aj::plan {
namespace {

constexpr uint32_t kNobody = 65534;

// The caller's subordinate ids as one block of uids and gids that go together: the first
// range of each, as long as the shorter. Empty without both.
host::IdRange subordinate_block(const host::Host& host, uint32_t* gid_first) {
  if (host.subuids.empty() || host.subgids.empty()) return {};
  *gid_first = host.subgids.front().first;
  return {host.subuids.front().first, std::min(host.subuids.front().count, host.subgids.front().count)};
}

bool binds_host_read_write(const policy::Policy& policy) {
  return std::any_of(policy.filesystem.mounts.begin(), policy.filesystem.mounts.end(), [](const policy::Mount& m) {
    return m.type == policy::MountType::bind && !m.read_only;
  });
}

// Why an ordinary caller's jail is its own uid, for the warning.
std::string why_caller_ids(const policy::Policy& policy, const host::Host& host) {
  uint32_t gid_first = 0;
  if (subordinate_block(host, &gid_first).count == 0)
    return "the caller has no subordinate ids in /etc/subuid and /etc/subgid";
  if (!host.newidmap_tools)
    return "newuidmap and newgidmap (the uidmap package) are not installed, or cannot gain their privileges here "
           "(no_new_privs, a bounding set without CAP_SETUID)";
  if (binds_host_read_write(policy))
    return "a read-write bind of the host's files needs the caller's uid to write them";
  return "no subordinate id was leased";
}

}  // namespace

std::optional<host::IdRange> id_lease_range(const policy::Policy& policy, const host::Host& host,
                                            const host::IdRange& root_range) {
  const auto& process = policy.process;
  if (host.is_root()) {
    if (process.host_user && process.host_group) return std::nullopt;
    return root_range;
  }
  uint32_t gid_first = 0;
  host::IdRange block = subordinate_block(host, &gid_first);
  if (block.count == 0 || !host.newidmap_tools || binds_host_read_write(policy)) return std::nullopt;
  return block;
}

Status decide_identity(const policy::Policy& policy, const host::Host& host, Plan& plan,
                       std::vector<std::string>& warnings) {
  const auto& process = policy.process;
  // Exactly one uid and one gid of the host are visible in the jail.
  plan.caller_is_root = host.is_root();
  plan.jail_uid = process.user;
  plan.jail_gid = process.group;
  if (!plan.caller_is_root) {
    uint32_t gid_first = 0;
    const host::IdRange block = subordinate_block(host, &gid_first);
    if (host.leased_id && id_lease_range(policy, host, {}) && block.contains(*host.leased_id)) {
      // A subordinate uid and gid of the caller's, leased for this jail, mapped by the
      // setuid helpers that check /etc/subuid and /etc/subgid (as podman does). The per-user
      // kernel budgets are then the jail's own, and the caller's files are a stranger's to it
      // (the caller, owner of the jail's user namespace, can still signal it). setgroups stays
      // allowed (the helpers decide) and the caller's supplementary groups are dropped.
      plan.uid_map = {process.user, *host.leased_id, 1};
      plan.gid_map = {process.group, gid_first + (*host.leased_id - block.first), 1};
      plan.host_ids = HostIds::subordinate;
      plan.id_maps_by_helper = true;
      plan.clear_groups = true;
      return {};
    }
    // An unprivileged user namespace may map only the caller's own ids.
    plan.uid_map = {process.user, static_cast<uint32_t>(host.euid), 1};
    plan.gid_map = {process.group, static_cast<uint32_t>(host.egid), 1};
    plan.deny_setgroups = true;  // the kernel's condition for an unprivileged gid_map
    plan.host_ids = HostIds::caller;
    warnings.push_back(fmt::format(
        "host ids: the jail runs as the caller's own uid {} and gid {} on the host ({}): the caller's other "
        "processes can signal it, and it shares that user's kernel budgets (see agentjail doctor)",
        host.euid, host.egid, why_caller_ids(policy, host)));
    return {};
  }

  plan.clear_groups = true;
  // The policy's choice wins, each of the two on its own: host_group alone shares a group
  // (for files) while the uid, which signals and kernel budgets go by, stays the jail's own.
  if (id_lease_range(policy, host, {}) && !host.leased_id)
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
