// Compiling the policy's [seccomp] table to BPF (parent, before clone) and installing it
// (child, last step before exec).
//
// The filter, in order: the architecture check (anything but the native ABI, i.e. i386 through
// int 0x80 and x32's nr | 0x40000000, gets the refusal action); the calls the jail itself needs
// (execve, exit, exit_group, rt_sigreturn, sendmsg on `sync_fd`); clone3 -> ENOSYS; the policy's
// allowlist minus its denylist, where clone, ioctl, personality, seccomp, socket and socketpair are
// allowed only with harmless arguments and the always-denied calls (sets.h) are never allowed;
// everything else gets the default action. Binary-tree layout, so a long allowlist stays cheap.
//
// Actions. errno: refused calls fail with `errno_value`. kill: the whole process dies (SIGSYS,
// status "seccomp"). log: refused calls are logged by the kernel and carried out, except the
// always-denied ones and the forbidden arguments, which fail with `errno_value`. With `notify`,
// refused calls (including the always-denied ones and foreign architectures, but not in log mode)
// go to a user-notification listener instead, which answers them (notify.h); the kernel answers
// ENOSYS if the listener is gone.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "plan/plan.h"

namespace aj::seccomp {

using plan::SeccompSpec;

struct Filter {
  std::vector<sock_filter> program;  // exactly what the child installs
  bool notify = false;               // installed with SECCOMP_FILTER_FLAG_NEW_LISTENER
};

// libseccomp: arch checks first (x32 and i386 refused), always-denied calls, the allowlist.
// Unknown set or syscall names, and denying a call the jail needs by name, are EINVAL errors.
Result<Filter> compile(const SeccompSpec& spec);
// libseccomp's readable form (PFC) of the same filter.
Result<std::string> export_pfc(const SeccompSpec& spec);

// Lower-case hex SHA-256 of every field of `spec`: equal digests, equal filters.
std::string spec_digest(const SeccompSpec& spec);

// compile() with memory: a spec compiled before (same digest) costs a map lookup. Owned by
// whoever compiles several filters in one process (tests, a long-lived embedder); a single
// `agentjail run` compiles once and gains nothing from it.
class FilterCache {
 public:
  // The compiled filter for `spec`, from the cache when its digest was seen before.
  Result<Filter> get(const SeccompSpec& spec);
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  std::map<std::string, Filter> filters_;  // by spec_digest()
  uint64_t hits_ = 0, misses_ = 0;
};

// Child side, async-signal-safe: installs `filter` (no_new_privs must already be set). Returns 0
// or -errno; `*listener` is the user-notification fd (O_CLOEXEC) when filter.notify, else -1.
int install(const Filter& filter, int* listener) noexcept;

}  // namespace aj::seccomp
