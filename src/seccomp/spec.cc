#include "seccomp/spec.h"

#include "jail/sync.h"

namespace aj::seccomp {

FilterSpec spec_for(const policy::Policy& policy, bool notify_supported) {
  FilterSpec spec;
  spec.default_action = policy.seccomp.default_action;
  spec.errno_value = policy.seccomp.errno_value;
  spec.allow = policy.seccomp.allow;
  spec.deny = policy.seccomp.deny;
  spec.notify = policy.seccomp.notify && notify_supported;
  spec.network = policy.network.mode;
  spec.sync_fd = jail::kChildSyncFd;
  return spec;
}

}  // namespace aj::seccomp
