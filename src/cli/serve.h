// `agentjail serve` and `agentjail mcp`: the command lines and the setup they share. What runs
// the jails is an Executor (serve/executor.h) made by a factory, so the same commands run with
// the real jails in agentjail and with a fake one in the tests.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "policy/load.h"
#include "serve/executor.h"

namespace aj::cli {

// What the executor is made from: everything of the command line that concerns jails.
struct ServeSetup {
  std::vector<policy::Loaded> policies;   // --policy, in order; the first is the default
  std::map<std::string, unsigned> pools;  // --pool NAME=N, by policy name
  unsigned max_jails = 4;
  std::string audit_log;                  // --audit-log, "" for none (the policies' own still apply)
  int grace_ms = 10'000;                  // SIGTERM: how long running jails may finish
  std::string uid_range;                  // --uid-range FIRST-LAST; "": AGENTJAIL_UID_RANGE or the default
};
using ExecutorFactory = std::function<Result<std::unique_ptr<serve::Executor>>(const ServeSetup&)>;

Runner add_serve(CLI::App& root, ExecutorFactory factory);
// The executor agentjail ships with: each run goes through the pipeline in a worker forked
// from the server (serve/jail_executor.h).
ExecutorFactory jail_executor_factory();
Runner add_mcp(CLI::App& root, ExecutorFactory factory);

// --policy specs -> loaded policies (duplicate names are an error); the catalog a server checks
// requests against; the loader of a client's own policy (--allow-client-policies).
Result<std::vector<policy::Loaded>> load_policies(const std::vector<std::string>& specs);
// --pool NAME=N specs -> N by policy name; NAME must be one of `policies`.
Result<std::map<std::string, unsigned>> parse_pools(const std::vector<std::string>& specs,
                                                    const std::vector<policy::Loaded>& policies);
serve::PolicyCatalog catalog_of(const std::vector<policy::Loaded>& policies);
serve::ClientPolicyLoader client_policy_loader();

}  // namespace aj::cli
