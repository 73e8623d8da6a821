// A pooled jail (agentjail-serve(1), "the warm pool"): built by spawn_waiting() up to the
// init's wait-for-command step, then handed the one command it runs. What is handed over is
// data only — argv, environment, PATH, working directory, resource limits — and the three
// stdio descriptors; the rest of the plan (namespaces, mounts, cgroup, filter) was applied
// when the jail was built and is the same for every command of that policy.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "jail/child.h"
#include "jail/spawn.h"
#include "plan/plan.h"

namespace aj::jail {

// The part of a plan that belongs to the command, as bytes (the memfd of MsgType::command).
std::string encode_command(const plan::Plan& plan);
// The inverse, into `plan` (argv, env, path_env, cwd, rlimits replaced; nothing else touched).
// Bytes that are not what encode_command writes are an error and leave `plan` unchanged.
Status decode_command(std::string_view bytes, plan::Plan& plan);
// The most bytes a command may take (argv and environment together).
constexpr size_t kMaxCommandBytes = 16u << 20;

// Parent side, after spawn_waiting: reads the jail's messages until it waits for its command
// (step timings logged with -v); a setup error or the jail's end before that is an error.
Status await_waiting(Jail& jail);
// Parent side: the command of `command_plan` and the descriptors that become its 0, 1, 2.
Status hand_over(Jail& jail, const plan::Plan& command_plan, const Stdio& stdio);

}  // namespace aj::jail
