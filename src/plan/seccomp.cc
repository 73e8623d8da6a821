// seccomp_spec: the policy's [seccomp] table, in the plan's terms.
#include "plan/build.h"

namespace aj::plan {

const char* to_string(FilterAction action) {
  switch (action) {
    case FilterAction::errno_: return "errno";
    case FilterAction::kill: return "kill";
    case FilterAction::log: return "log";
  }
  return "errno";
}

FilterAction filter_action(policy::SeccompAction action) {
  switch (action) {
    case policy::SeccompAction::errno_: return FilterAction::errno_;
    case policy::SeccompAction::kill: return FilterAction::kill;
    case policy::SeccompAction::log: return FilterAction::log;
  }
  return FilterAction::errno_;
}

NetworkMode network_mode(policy::NetworkMode mode) {
  switch (mode) {
    case policy::NetworkMode::none: return NetworkMode::none;
    case policy::NetworkMode::loopback: return NetworkMode::loopback;
    case policy::NetworkMode::host: return NetworkMode::host;
    case policy::NetworkMode::allowlist: return NetworkMode::allowlist;
  }
  return NetworkMode::none;
}

SeccompSpec seccomp_spec(const policy::Policy& policy, bool notify_supported) {
  SeccompSpec spec;
  spec.default_action = filter_action(policy.seccomp.default_action);
  spec.errno_value = policy.seccomp.errno_value;
  spec.allow = policy.seccomp.allow;
  spec.deny = policy.seccomp.deny;
  spec.notify = policy.seccomp.notify && notify_supported;
  spec.network = network_mode(policy.network.mode);
  spec.sync_fd = kChildSyncFd;
  return spec;
}

}  // namespace aj::plan
