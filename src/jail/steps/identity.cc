// Who the jail is: the mapped user and group, and nothing more — no capabilities, no way
// to gain any.
#include <grp.h>
#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>

#include "jail/steps/steps.h"
#include "sys/files.h"

namespace aj::jail::steps {
namespace {

struct CapFree {
  void operator()(cap_t caps) const { cap_free(caps); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

// Sets permitted, effective and inheritable to exactly `keep`.
Status set_sets(const std::vector<int>& keep) {
  CapPtr caps(cap_init());
  if (!caps) return fail_errno("cap_init");
  std::vector<cap_value_t> values(keep.begin(), keep.end());
  if (!values.empty()) {
    for (cap_flag_t flag : {CAP_PERMITTED, CAP_EFFECTIVE, CAP_INHERITABLE})
      if (cap_set_flag(caps.get(), flag, static_cast<int>(values.size()), values.data(), CAP_SET) != 0)
        return fail_errno("cap_set_flag");
  }
  if (cap_set_proc(caps.get()) != 0) return fail_errno("capset");
  return {};
}

bool kept(const std::vector<int>& keep, int cap) { return std::find(keep.begin(), keep.end(), cap) != keep.end(); }

}  // namespace

Status become_jail_user(ChildContext& ctx) {
  const auto& plan = ctx.plan;
  // Raw syscalls: glibc's set*id would try to broadcast to threads it thinks we have.
  if (plan.clear_groups && ::syscall(SYS_setgroups, 0, nullptr) != 0) return fail_errno("setgroups []");
  // Keep the capabilities of our user namespace across the uid change: the root still has
  // to be built. They are all dropped before the command runs.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return fail_errno("PR_SET_KEEPCAPS");
  if (::syscall(SYS_setresgid, plan.jail_gid, plan.jail_gid, plan.jail_gid) != 0)
    return fail_errno("setresgid " + std::to_string(plan.jail_gid));
  if (::syscall(SYS_setresuid, plan.jail_uid, plan.jail_uid, plan.jail_uid) != 0)
    return fail_errno("setresuid " + std::to_string(plan.jail_uid));
  CapPtr caps(cap_get_proc());
  if (!caps) return fail_errno("cap_get_proc");
  cap_value_t all[CAP_LAST_CAP + 1];
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) all[cap] = cap;
  cap_set_flag(caps.get(), CAP_EFFECTIVE, CAP_LAST_CAP + 1, all, CAP_SET);
  if (cap_set_proc(caps.get()) != 0) return fail_errno("raise effective capabilities");
  return {};  // the credential change cleared the parent-death signal: the next step sets it again
}

Status limit_user_namespace(ChildContext& ctx) {
  for (const auto& limit : ctx.plan.userns_limits) {
    auto ok = sys::write_file(limit.path, limit.value);
    if (!ok && ok.error().code != ENOENT) return ok;  // ENOENT: this kernel has no such limit
  }
  return {};
}

Status make_non_dumpable(ChildContext&) {
  // Changing credentials made us dumpable again: the jailed command must not be able to
  // ptrace pid 1 or open its /proc files (mem, fd/) while pid 1 still holds setup state.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail_errno("PR_SET_DUMPABLE 0");
  return {};
}

Status harden_init(ChildContext&) {
  // pid 1 only waits and reports from here on: it needs no capability at all.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
    if (cap_drop_bound(cap) != 0 && errno != EINVAL) return fail_errno("drop bounding capability");
  if (auto ok = set_sets({}); !ok) return ok;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno("PR_SET_NO_NEW_PRIVS");
  return {};
}

Status drop_capabilities(ChildContext& ctx) {
  const auto& keep = ctx.plan.keep_caps;
  // Order matters: the bounding set and securebits need CAP_SETPCAP, so they go first;
  // ambient capabilities must be in permitted and inheritable when raised, so they go last.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (kept(keep, cap)) continue;
    if (cap_drop_bound(cap) != 0 && errno != EINVAL) return fail_errno("drop bounding capability " + std::to_string(cap));
  }
  // uid 0 inside the jail gains nothing at execve; nobody can undo that.
  unsigned bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
  if (keep.empty()) bits |= SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (::prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) return fail_errno("PR_SET_SECUREBITS");
  if (auto ok = set_sets(keep); !ok) return ok;
  if (cap_reset_ambient() != 0) return fail_errno("clear ambient capabilities");
  for (int cap : keep)
    if (cap_set_ambient(cap, CAP_SET) != 0) return fail_errno("raise ambient capability " + std::to_string(cap));
  return {};
}

Status no_new_privs(ChildContext&) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno("PR_SET_NO_NEW_PRIVS");
  return {};
}

}  // namespace aj::jail::steps
