// The run pipeline without a command line: probe the host, plan, compile the filter, create
// the cgroup, spawn, supervise, record (docs/architecture.md). `agentjail run` loads the policy
// and prints the report around it; `agentjail serve` runs it in a forked worker per request.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "host/ids.h"
#include "host/host.h"
#include "jail/child.h"
#include "plan/plan.h"
#include "policy/model.h"
#include "report/report.h"
#include "sys/fd.h"

namespace aj::pipeline {

// SIGINT, SIGTERM, SIGHUP and SIGQUIT blocked and read from the returned signalfd, SIGPIPE
// ignored: a signal that would end agentjail tears the jail down instead and the report is
// still written. Call it before anything that creates a cgroup.
Result<sys::UniqueFd> take_over_signals();

// Once the jail is gone: those signals end agentjail again by their default action, so that a
// reader that stalls the report on stdout cannot make agentjail outlive a SIGTERM.
void give_back_signals();

enum class Stream { out, err };

struct Options {
  // Capture the command's stdout and stderr (bounded by limits.output) into the report
  // instead of passing the caller's descriptors through (`run --json`).
  bool capture = false;
  // What the jail gets as stdin, stdout and stderr where not captured; -1 keeps agentjail's own.
  jail::Stdio stdio;
  // With capture: each kept chunk as the supervisor reads it (for a streamed answer).
  std::function<void(Stream, std::string_view)> on_output;
  bool verbose = false;
  int signal_fd = -1;  // from take_over_signals()
  // Use at most this Landlock ABI of the kernel's (`run --landlock-max-abi`, for testing).
  int landlock_max_abi = -1;  // -1: whatever the kernel has
  // Run by root without process.host_user: the range the jail's host uid is leased from
  // (`--uid-range`, AGENTJAIL_UID_RANGE), or a lease the caller already holds for this run
  // (`serve` leases before it writes the request's files, which the jail's uid must own).
  host::IdRange id_range = host::kDefaultJailIds;
  const host::IdLease* lease = nullptr;
  // A long-running caller (serve) probes the host once and removes stale cgroups once, at its
  // start; null / false: probe now and sweep stale cgroups before creating this run's.
  const host::Host* host = nullptr;
  bool remove_stale_cgroups = true;
  // `run`: look for the command's arguments in the caller's working directory, to warn when
  // the command fails and the jail did not see them (plan/cwd_args.h).
  bool cwd_args = false;
};

// Runs `command` under `policy` (already loaded, overrides applied) with `env` as the caller's
// environment. Fills `report` with what the run did (status, exit, usage, captures, warnings);
// an error is a setup error, the report holding what was known by then. `report.id` names the
// cgroup and must be set.
Status execute(const policy::Policy& policy, const std::vector<std::string>& command,
               const std::map<std::string, std::string>& env, const Options& options, report::Report& report);

// The warm pool of `agentjail serve` (agentjail-serve(1)): a jail built up to its command —
// cgroup created, namespaces made, root mounted and entered, filter compiled — with pid 1
// waiting at its wait-for-command step. It runs exactly one command (run_in) and is destroyed
// with this object; nothing of it is reused.
class WarmJail {
 public:
  ~WarmJail();
  WarmJail(const WarmJail&) = delete;
  WarmJail& operator=(const WarmJail&) = delete;
  // Readable when the jail ends (or speaks) before its command comes: poll them while waiting.
  int sync_fd() const;
  int init_pidfd() const;

 private:
  WarmJail();
  struct State;
  std::unique_ptr<State> state_;
  friend Result<std::unique_ptr<WarmJail>> prepare(const policy::Policy&, const Options&, const std::string&);
  friend std::optional<std::string> cannot_serve(const WarmJail&, const plan::Plan&);
  friend Status run_in(WarmJail&, const policy::Policy&, const std::vector<std::string>&,
                       const std::map<std::string, std::string>&, const Options&, report::Report&);
};

// Why a jail of `policy` cannot be built before its command (a workspace, an allowlist: each
// belongs to one run), or nullopt.
std::optional<std::string> cannot_pool(const policy::Policy& policy);

// Builds a jail of `policy` (its own limits) up to its command; `name` names its cgroup.
// Returns once pid 1 waits for the command; a setup error of any step is the error.
Result<std::unique_ptr<WarmJail>> prepare(const policy::Policy& policy, const Options& options, const std::string& name);

// Why `warm` cannot run a command planned as `plan` (its jail was built otherwise), or nullopt.
std::optional<std::string> cannot_serve(const WarmJail& warm, const plan::Plan& plan);

// As execute, in `warm`: `policy` is the one the jail was built from with the request's
// tightened limits and environment; only what the command child applies (argv, env, cwd,
// rlimits) and what the supervisor enforces (wall and CPU time, output) may differ. The
// report's wall time counts from the hand-over of the command.
Status run_in(WarmJail& warm, const policy::Policy& policy, const std::vector<std::string>& command,
              const std::map<std::string, std::string>& env, const Options& options, report::Report& report);

}  // namespace aj::pipeline
