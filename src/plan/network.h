// What network.mode "allowlist" and "host" add to a plan: the broker's config, the files a
// program's name lookups and TLS need in the jail, and the proxy variables (docs/network.md).
#pragma once

#include "plan/plan.h"
#include "policy/model.h"

namespace aj::plan {

// The CA certificate locations of Debian, Fedora and Alpine, bound read-only (each optional)
// in modes "host" and "allowlist".
inline constexpr const char* kCaPaths[] = {"/etc/ssl/certs", "/usr/share/ca-certificates", "/etc/ca-certificates",
                                           "/etc/pki"};
// The jail's resolver in mode "allowlist": the broker's DNS on any address; one attempt, as a
// refusal comes back at once.
inline constexpr const char* kAllowlistResolvConf = "nameserver 127.0.0.1\noptions attempts:1\n";
inline constexpr const char* kAllowlistHosts = "127.0.0.1 localhost\n::1 localhost\n";
// The broker's HTTP CONNECT proxy, as HTTP(S)_PROXY names it.
inline constexpr const char* kProxyUrl = "http://127.0.0.1:3128";

// Pure. In modes "host" and "allowlist" puts the mounts above in front of the policy's own (a
// policy mount at the same target wins: it comes later, or replaces ours). Call on the policy's
// mounts, before the workspace is placed among them: the workspace keeps the indices of its
// mounts (PlannedWorkspace::bind_index), which an insertion in front would shift.
void plan_network_mounts(const policy::Network& network, Plan& plan);

// Pure. In mode "allowlist" fills plan.allowlist from `network` and sets the proxy variables
// the policy's environment does not set itself. Call once plan.env is built, and before the
// Landlock rules are derived from the mounts.
void plan_network(const policy::Network& network, Plan& plan);

}  // namespace aj::plan
