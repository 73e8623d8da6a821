// The planner: the one place where the policy, the host and the command line meet. Pure:
// no syscalls, so every decision is unit-tested from a fake host (tests/unit/plan_test.cc).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "host/host.h"
#include "limits/limits.h"
#include "plan/plan.h"
#include "policy/model.h"

namespace aj::plan {

// Policy + Host + argv + the caller's environment -> Plan.
Result<Plan> build(const policy::Policy& policy, const host::Host& host, std::vector<std::string> argv,
                   const std::map<std::string, std::string>& caller_env);

// The cgroup enforcement of `limits` on `host` (also what `agentjail doctor` shows).
CgroupPlan decide_cgroup(const Limits& limits, const host::Host& host);

// The CFS bandwidth for a `cpus` limit: a 100 ms period and quota = cpus * period (at least 1 ms).
CpuQuota cpu_quota(double cpus);

// The policy's [seccomp] table and network mode as a spec; notify only when `notify_supported`.
// Shared by the planner, `agentjail seccomp` and the build's precompiled filters, so an exported
// filter is exactly the one a run installs.
SeccompSpec seccomp_spec(const policy::Policy& policy, bool notify_supported);
// The policy's words in the plan's.
FilterAction filter_action(policy::SeccompAction action);
NetworkMode network_mode(policy::NetworkMode mode);

}  // namespace aj::plan
