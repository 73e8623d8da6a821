// `agentjail run` options applied on top of a loaded policy.
#include "policy/overrides.h"

#include <doctest/doctest.h>

#include <string>

#include "policy/load.h"

using namespace aj::policy;

namespace {

Policy base() {
  Diagnostics diagnostics;
  auto loaded = load("default", diagnostics);
  REQUIRE(loaded.has_value());
  return loaded->policy;
}

std::vector<std::string> targets(const Policy& policy) {
  std::vector<std::string> out;
  for (const auto& mount : policy.filesystem.mounts) out.push_back(mount.target);
  return out;
}

const Mount& mount_at(const Policy& policy, std::string_view target) {
  for (const auto& mount : policy.filesystem.mounts)
    if (mount.target == target) return mount;
  FAIL("no mount at " << target);
  throw;  // unreachable: FAIL aborts the test case
}

// Applies overrides that must fail and returns every diagnostic, formatted.
std::vector<std::string> failures(const Overrides& overrides) {
  Policy policy = base();
  Diagnostics diagnostics;
  CHECK_FALSE(apply_overrides(policy, overrides, "/home/me", diagnostics));
  std::vector<std::string> out;
  for (const auto& d : diagnostics) out.push_back(d.format());
  return out;
}

}  // namespace

TEST_CASE("overrides: bind mounts are added, made absolute, or replace a mount in place") {
  Policy policy = base();
  const auto before = targets(policy);
  Overrides overrides;
  overrides.ro = {"data", "/srv/models:/models"};
  overrides.rw = {"/srv/scratch:/tmp", "out/:/out/"};
  Diagnostics diagnostics;
  REQUIRE(apply_overrides(policy, overrides, "/home/me", diagnostics));
  CHECK(diagnostics.empty());
  // /tmp (a tmpfs in default) is replaced where it stood; the rest are appended in order.
  auto after = before;
  after.insert(after.end(), {"/home/me/data", "/models", "/out"});
  CHECK(targets(policy) == after);
  const Mount& data = mount_at(policy, "/home/me/data");
  CHECK(data.type == MountType::bind);
  CHECK(data.source == "/home/me/data");
  CHECK(data.read_only);
  CHECK(data.pos.file == "--ro");
  const Mount& tmp = mount_at(policy, "/tmp");
  CHECK(tmp.type == MountType::bind);
  CHECK(tmp.source == "/srv/scratch");
  CHECK_FALSE(tmp.read_only);
  CHECK(mount_at(policy, "/out").source == "/home/me/out");
}

TEST_CASE("overrides: tmpfs, cwd, env, network and limits") {
  Policy policy = base();
  Overrides overrides;
  overrides.tmpfs = {"/scratch:16MiB", "/cache"};
  overrides.cwd = "/scratch";
  overrides.env = {"FOO=bar=baz", "PATH=/bin", "EMPTY="};
  overrides.net = "host";
  overrides.limits["--time"] = "2m";
  overrides.limits["--cpu-time"] = "unlimited";
  overrides.limits["--memory"] = "1G";
  overrides.limits["--pids"] = "500";
  Diagnostics diagnostics;
  REQUIRE(apply_overrides(policy, overrides, "/", diagnostics));
  CHECK(mount_at(policy, "/scratch").size == 16ull << 20);
  CHECK(mount_at(policy, "/scratch").type == MountType::tmpfs);
  CHECK_FALSE(mount_at(policy, "/cache").size.has_value());
  CHECK(policy.process.cwd == "/scratch");
  CHECK(policy.process.env.at("FOO") == "bar=baz");
  CHECK(policy.process.env.at("PATH") == "/bin");
  CHECK(policy.process.env.at("EMPTY").empty());
  CHECK(policy.process.env.at("HOME") == "/tmp");  // untouched variables stay
  CHECK(policy.network.mode == NetworkMode::host);
  CHECK_FALSE(policy.namespaces.net);
  CHECK(policy.limits.wall_time_ms == 120'000);
  CHECK_FALSE(policy.limits.cpu_time_ms.has_value());
  CHECK(policy.limits.memory_bytes == 1ull << 30);
  CHECK(policy.limits.pids == 500);

  Overrides back;
  back.net = "loopback";
  REQUIRE(apply_overrides(policy, back, "/", diagnostics));
  CHECK(policy.namespaces.net);
}

TEST_CASE("overrides: each bad option is reported under its own name") {
  Overrides overrides;
  overrides.limits["--memory"] = "12Q";
  overrides.limits["--pids"] = "many";
  overrides.limits["--time"] = "1.5ms";
  overrides.net = "lopback";
  overrides.env = {"NOEQUALS", "=x"};
  overrides.cwd = "relative";
  overrides.ro = {"/srv:relative", "/a:/x/../y"};
  overrides.tmpfs = {"/t:0", "/u:lots"};
  auto errors = failures(overrides);
  CHECK(errors == std::vector<std::string>{
                      "--ro: \"/srv:relative\": target \"relative\" is not an absolute path",
                      "--ro: \"/a:/x/../y\": target \"/x/../y\" has a \"..\" component; write the path without it",
                      "--tmpfs: \"/t:0\": a tmpfs size must not be 0",
                      "--tmpfs: invalid size \"lots\": it must start with a number",
                      "--cwd: \"relative\" is not an absolute path",
                      "--env: \"NOEQUALS\" is not NAME=VALUE",
                      "--env: an environment variable name must not be empty",
                      "--net: \"lopback\" is not one of none, loopback, host, allowlist (did you mean \"loopback\"?)",
                      "--time: invalid duration \"1.5ms\": it is not a whole number of milliseconds",
                      "--memory: invalid size \"12Q\": unknown unit \"Q\" (use k, M, G or T, e.g. \"64MiB\")",
                      "--pids: \"many\" is not a number of processes (1..4194304, or \"unlimited\")",
                  });
  Overrides zero;
  zero.limits["--pids"] = "0";
  zero.limits["--memory"] = "0";
  zero.limits["--cpu-time"] = "0";
  CHECK(failures(zero).size() == 3);
  Overrides root;
  root.rw = {"/"};  // the host's root onto the jail's root: refused
  CHECK(failures(root) == std::vector<std::string>{"--rw: \"/\": target \"/\" is the jail's root, which cannot be a mount target"});
}

TEST_CASE("overrides: unlimited and the policy stays valid afterwards") {
  Policy policy = base();
  Overrides overrides;
  overrides.limits["--memory"] = "unlimited";
  overrides.limits["--pids"] = "unlimited";
  overrides.limits["--time"] = "unlimited";
  Diagnostics diagnostics;
  REQUIRE(apply_overrides(policy, overrides, "/", diagnostics));
  CHECK_FALSE(policy.limits.memory_bytes.has_value());
  CHECK_FALSE(policy.limits.pids.has_value());
  CHECK_FALSE(policy.limits.wall_time_ms.has_value());
}
