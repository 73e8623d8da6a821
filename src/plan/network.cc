#include "plan/network.h"

#include <algorithm>

namespace aj::plan {
namespace {

bool has_target(const std::vector<MountOp>& mounts, const std::string& target) {
  return std::any_of(mounts.begin(), mounts.end(), [&](const MountOp& op) { return op.target == target; });
}

bool has_env(const std::vector<std::string>& env, const std::string& name) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& entry) { return entry.starts_with(name + "="); });
}

}  // namespace

void plan_network_mounts(const policy::Network& network, Plan& plan) {
  const bool allowlist = network.mode == policy::NetworkMode::allowlist;
  if (!allowlist && network.mode != policy::NetworkMode::host) return;
  std::vector<MountOp> ours;
  auto bind = [&](const char* path) {
    if (has_target(plan.mounts, path)) return;
    ours.push_back({.kind = MountKind::bind, .source = path, .target = path, .read_only = true, .optional = true,
                    .noexec = true, .origin = std::string("network.mode = ") + (allowlist ? "allowlist" : "host")});
  };
  auto file = [&](const char* path, const char* content) {
    if (has_target(plan.mounts, path)) return;
    ours.push_back({.kind = MountKind::file, .target = path, .read_only = true, .noexec = true, .mode = 0444,
                    .content = content, .origin = "network.mode = allowlist"});
  };
  for (const char* path : kCaPaths) bind(path);
  if (allowlist) {
    // The jail's resolver is the broker; /etc/hosts so that localhost needs no DNS.
    file("/etc/resolv.conf", kAllowlistResolvConf);
    file("/etc/hosts", kAllowlistHosts);
  } else {
    for (const char* path : {"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf"}) bind(path);
  }
  plan.mounts.insert(plan.mounts.begin(), ours.begin(), ours.end());
}

void plan_network(const policy::Network& network, Plan& plan) {
  if (network.mode != policy::NetworkMode::allowlist) return;

  net::Config config;
  config.allow = network.allow;
  config.resolve = network.resolve;
  config.max_connections = network.max_connections;
  config.max_bytes = network.max_bytes;
  plan.allowlist = std::move(config);
  // For programs that insist on a proxy (and those that only reach the net through one). No
  // NO_PROXY: every destination meets the same rules either way.
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"})
    if (!has_env(plan.env, name)) plan.env.push_back(std::string(name) + "=" + kProxyUrl);
  std::sort(plan.env.begin(), plan.env.end());
}

}  // namespace aj::plan
