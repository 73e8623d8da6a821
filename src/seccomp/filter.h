// Compiling the policy's [seccomp] table to BPF (parent, before clone) and installing it
// (child, last step before exec).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "policy/model.h"

namespace aj::seccomp {

// Everything the compiler needs; the planner fills it from the policy and the host.
struct FilterSpec {
  policy::SeccompAction default_action = policy::SeccompAction::errno_;
  int errno_value = 1;
  std::vector<std::string> allow;   // names and @sets, as in the policy
  std::vector<std::string> deny;
  bool notify = false;              // refused calls go to a user-notification listener (host supports it)
  policy::NetworkMode network = policy::NetworkMode::none;  // decides which socket families exist
  std::vector<std::string> keep_caps;  // e.g. "CHOWN": decides whether chown & co stay allowed
  // After the filter is installed the child still has to send the listener fd (and, on a
  // failed execve, the errno) to the supervisor: sendmsg on exactly this fd stays allowed.
  int sync_fd = -1;
};

struct Filter {
  std::vector<sock_filter> program;  // exactly what the child installs
  bool notify = false;               // installed with SECCOMP_FILTER_FLAG_NEW_LISTENER
};

// libseccomp: arch checks first (x32 and i386 refused), always-denied calls, the allowlist.
Result<Filter> compile(const FilterSpec& spec);
// libseccomp's readable form of the same filter.
Result<std::string> export_pfc(const FilterSpec& spec);

// Child side, async-signal-safe: installs `filter` (no_new_privs must already be set).
// Returns the listener fd when filter.notify, else -1; on failure, -errno.
int install(const Filter& filter) noexcept;

}  // namespace aj::seccomp
