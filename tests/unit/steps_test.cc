// The order of the jail's setup steps (jail/init.cc, jail/command.cc): each constraint below is
// one a reordering would silently break, and the comment says what would go wrong.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "jail/child.h"

using namespace aj;

namespace {

std::vector<std::string> names(std::span<const jail::Step> steps) {
  std::vector<std::string> out;
  for (const auto& step : steps) out.emplace_back(step.name);
  return out;
}

long index_of(const std::vector<std::string>& list, const std::string& name) {
  auto it = std::find(list.begin(), list.end(), name);
  REQUIRE_MESSAGE(it != list.end(), "no step " << name);
  return it - list.begin();
}

}  // namespace

TEST_CASE("init steps: in the order the jail depends on") {
  const auto init = names(jail::init_steps());
  // The whole list, so that a step added or moved shows up here and gets its reason below.
  CHECK(init == std::vector<std::string>{"reset-signals", "die-with-parent", "wait-for-go", "join-cgroup",
                                         "private-mounts", "open-sources", "become-jail-user",
                                         "die-with-parent-again", "limit-user-namespace", "build-root", "pivot-root",
                                         "hostname", "loopback", "network-allowlist", "sync-fd", "non-dumpable",
                                         "wait-for-command", "fork-command",
                                         "close-init-fds", "harden-init"});
  // Nothing but the signal reset before agentjail's death takes the jail with it.
  CHECK(index_of(init, "die-with-parent") == 1);
  // The credential change clears the parent-death signal: it must be set again right after.
  CHECK(index_of(init, "die-with-parent-again") == index_of(init, "become-jail-user") + 1);
  // The id maps and the cgroup come from the supervisor: nothing is built before "go".
  CHECK(index_of(init, "wait-for-go") < index_of(init, "join-cgroup"));
  CHECK(index_of(init, "join-cgroup") < index_of(init, "build-root"));
  // No mount may propagate to the host.
  CHECK(index_of(init, "private-mounts") < index_of(init, "open-sources"));
  // Bind sources are opened with the caller's access, before the credentials change.
  CHECK(index_of(init, "open-sources") < index_of(init, "become-jail-user"));
  CHECK(index_of(init, "build-root") < index_of(init, "pivot-root"));
  // The command inherits non-dumpability until its execve: set before the fork.
  CHECK(index_of(init, "non-dumpable") < index_of(init, "fork-command"));
  CHECK(index_of(init, "sync-fd") < index_of(init, "fork-command"));
  // A pooled jail waits with the whole jail built (root entered, non-dumpable, socket parked)
  // and nothing of the command started.
  CHECK(index_of(init, "wait-for-command") == index_of(init, "fork-command") - 1);
  CHECK(index_of(init, "pivot-root") < index_of(init, "wait-for-command"));
  CHECK(index_of(init, "non-dumpable") < index_of(init, "wait-for-command"));
  // The listeners exist before the command can connect, and are made while the init still
  // holds CAP_NET_ADMIN in the jail's namespaces (the routes need it).
  CHECK(index_of(init, "pivot-root") < index_of(init, "network-allowlist"));
  CHECK(index_of(init, "network-allowlist") < index_of(init, "wait-for-command"));
  // pid 1 drops everything last: the steps before need its capabilities.
  CHECK(init.back() == "harden-init");
  for (const auto& step : jail::init_steps()) CHECK(step.on_failure == jail::OnFailure::setup_error);
}

TEST_CASE("command steps: the filter last, only the command's own name fails as the command") {
  const auto command = names(jail::command_steps());
  CHECK(command.front() == "die-with-parent");
  // The OOM killer must prefer the command over pid 1 before the command allocates anything.
  CHECK(index_of(command, "oom-score") == 1);
  // The filter forbids what the steps before it need (capset, prctl, setrlimit, ...).
  CHECK(command.back() == "seccomp");
  // Capabilities go before no_new_privs and the filter; ambient ones need securebits first.
  CHECK(index_of(command, "drop-capabilities") < index_of(command, "no-new-privs"));
  // Without capabilities, landlock_restrict_self needs no_new_privs; the ruleset's openat2 calls
  // would get ENOSYS from the filter; and the command's own lookups must already be fenced.
  CHECK(index_of(command, "no-new-privs") < index_of(command, "landlock"));
  CHECK(index_of(command, "drop-capabilities") < index_of(command, "landlock"));
  CHECK(index_of(command, "landlock") < index_of(command, "resolve-command"));
  // stdio before close-fds: the pipe ends are dup'ed onto 0-2 before every other fd is closed.
  CHECK(index_of(command, "stdio") < index_of(command, "close-fds"));
  // The group takes the terminal on fd 0, so after stdio; while signals are blocked (SIGTTOU).
  CHECK(index_of(command, "new-session") < index_of(command, "process-group"));
  CHECK(index_of(command, "stdio") < index_of(command, "process-group"));
  CHECK(index_of(command, "process-group") < index_of(command, "unblock-signals"));
  // A missing command is 127 / 126 as a shell says it; every other step is a setup error.
  for (const auto& step : jail::command_steps())
    CHECK_MESSAGE((step.on_failure == jail::OnFailure::exec_error) == (std::string(step.name) == "resolve-command"),
                  step.name);
}
