// Exit codes of agentjail (agentjail(1), EXIT STATUS).
#pragma once

namespace aj::report {

constexpr int kExitTimeLimit = 124;     // wall or CPU time limit reached
constexpr int kExitSetupError = 125;    // agentjail failed: bad flags, bad policy, jail not built
constexpr int kExitNotExecutable = 126;
constexpr int kExitNotFound = 127;
constexpr int kExitUsageProblem = 1;    // doctor: the policy would be enforced more weakly here

}  // namespace aj::report
