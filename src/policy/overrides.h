// `agentjail run` options that override policy keys for one run (agentjail(1), RUN OPTIONS).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/diagnostic.h"
#include "policy/model.h"

namespace aj::policy {

struct Overrides {
  std::vector<std::string> ro, rw;   // "SRC[:DST]": bind mounts, read-only / read-write
  std::vector<std::string> tmpfs;    // "DST[:SIZE]"
  std::optional<std::string> cwd;
  std::vector<std::string> env;      // "NAME=VALUE"
  std::optional<std::string> net;
  std::optional<std::string> workspace;  // "SRC[:DST][:MODE]" (-w/--workspace)
  std::optional<std::string> changes;    // --changes DIR: workspace.keep_changes
  std::vector<std::string> allow;    // "HOST[:PORT]", appended to network.allow
  // The limit options of limits/table.h (a row's `option`) with the text given: "--memory" ->
  // "512MiB"; cli/limit_options.h registers them.
  std::map<std::string, std::string> limits;
};

// Applies `agentjail run` options to the policy, then re-validates; problems become diagnostics
// whose `file` is the option name, e.g. "--memory: invalid size "12Q" ...". Returns false on any.
// Limits are parsed as in a policy file (policy/limit_value.h), in the table's order.
// A relative --ro/--rw SRC is made absolute against `caller_cwd`; a mount whose target is
// already in the policy replaces that mount where it stands, any other is appended.
// A relative workspace source or keep_changes (from -w, --changes or the policy: ".") is made
// absolute against `caller_cwd` too.
// Splits a -w value, SRC[:DST][:MODE], into `workspace` (fields not given keep their values);
// returns the problem, if any.
std::optional<std::string> parse_workspace_option(const std::string& spec, Workspace& workspace);

bool apply_overrides(Policy& policy, const Overrides& overrides, const std::string& caller_cwd,
                     Diagnostics& diagnostics);

}  // namespace aj::policy
