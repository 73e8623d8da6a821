// The canonical text of a policy: complete, stable, and a fixed point of emit -> load -> emit.
#include <doctest/doctest.h>

#include <string>

#include "policy/builtins.h"
#include "policy/emit.h"
#include "policy/load.h"

using namespace aj::policy;

namespace {

std::string joined(const Diagnostics& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.format() + "\n";
  return out;
}

Policy load_ok(std::string_view text, std::string_view name = "p.toml") {
  Diagnostics diagnostics;
  auto loaded = load_text(text, name, "", diagnostics);
  INFO(text);
  INFO(joined(diagnostics));
  REQUIRE(loaded.has_value());
  return loaded->policy;
}

// emit -> load_text -> emit must give the same bytes; returns the first emission.
std::string check_round_trip(const Policy& policy) {
  const std::string first = to_toml(policy);
  const std::string second = to_toml(load_ok(first, "canonical.toml"));
  CHECK(first == second);
  return first;
}

// Uses every key the schema has, most with non-default values and awkward spellings.
constexpr std::string_view kEveryKey = R"(version = 1
name = "every-key"
description = "Uses \"every\" key, in ünïcode"
audit_log = "/var/log/agentjail/audit.jsonl"
landlock = "required"

[process]
cwd = "/work"
hostname = "box.example"
user = 0
group = 100
host_user = 200000
host_group = 200001
env = { PATH = "/usr/bin", "dotted.name" = "v", EMPTY = "", QUOTE = "say \"hi\"\n", CTRL = "\u0001" }
pass_env = ["TERM", "COLORTERM"]
new_session = false
umask = 0o27

[limits]
wall_time = 90
cpu_time = 0.5
memory = "1.5GiB"
pids = "unlimited"
cpus = 2
file_size = 1000
open_files = "unlimited"
stack = "16M"
core_size = "1k"
output = 1536

[network]
mode = "loopback"

[seccomp]
default_action = "log"
errno = 4000
allow = ["@default", "@network", "ptrace"]
deny = ["@chown"]
notify = false

[capabilities]
keep = ["cap_chown", "kill", "NET_BIND_SERVICE"]

[namespaces]
user = true
mount = true
pid = true
ipc = false
uts = false
net = true
cgroup = false

[[filesystem.mount]]
type = "bind"
source = "/usr"
target = "/usr"
exec = true
[[filesystem.mount]]
type = "bind"
source = "/srv/out dir"
target = "/out"
read_only = false
optional = true
exec = false
[[filesystem.mount]]
type = "tmpfs"
target = "/tmp"
size = "64MiB"
mode = "1777"
[[filesystem.mount]]
type = "tmpfs"
target = "/run"
read_only = true
exec = false
[[filesystem.mount]]
type = "proc"
target = "/proc"
[[filesystem.mount]]
type = "dev"
target = "/dev"
[[filesystem.mount]]
type = "symlink"
source = "usr/lib"
target = "/lib"
[[filesystem.mount]]
type = "file"
target = "/etc/motd"
content = """
line one
'quoted' and "double" and \\ backslash
"""
exec = false
)";

}  // namespace

TEST_CASE("emit: every built-in policy round-trips byte for byte") {
  for (const auto& builtin : builtins()) {
    INFO(builtin.name);
    Diagnostics diagnostics;
    auto loaded = load(builtin.name, diagnostics);
    REQUIRE(loaded.has_value());
    std::string text = check_round_trip(loaded->policy);
    CHECK(text.find("extends") == std::string::npos);
    CHECK(text.starts_with("version = 1\nname = \"" + std::string(builtin.name) + "\"\n"));
  }
}

TEST_CASE("emit: a policy that uses every key round-trips and keeps every value") {
  Policy policy = load_ok(kEveryKey);
  std::string text = check_round_trip(policy);
  Policy again = load_ok(text, "canonical.toml");
  CHECK(again.name == "every-key");
  CHECK(again.description == policy.description);
  CHECK(again.audit_log == policy.audit_log);
  CHECK(again.landlock == LandlockMode::required);
  CHECK(again.process.env == policy.process.env);
  CHECK(again.process.umask == 027);
  CHECK(again.limits.wall_time_ms == 90'000);
  CHECK(again.limits.cpu_time_ms == 500);
  CHECK(again.limits.memory_bytes == 1536ull << 20);
  CHECK_FALSE(again.limits.pids.has_value());
  CHECK(again.limits.cpus == 2.0);
  CHECK(again.limits.file_size_bytes == 1000);
  CHECK(again.limits.core_size_bytes == 1024);
  CHECK(again.limits.output_bytes == 1536);
  CHECK(again.seccomp.errno_value == 4000);
  CHECK(again.seccomp.default_action == SeccompAction::log);
  CHECK(again.capabilities.keep == std::vector<std::string>{"CHOWN", "KILL", "NET_BIND_SERVICE"});
  CHECK_FALSE(again.namespaces.cgroup);
  REQUIRE(again.filesystem.mounts.size() == 8);
  CHECK(again.filesystem.mounts[1].source == "/srv/out dir");
  CHECK(again.filesystem.mounts[3].mode == 0755u);  // filled in: the default is written out
  CHECK(again.filesystem.mounts[7].content == policy.filesystem.mounts[7].content);
  // Spot-check the canonical spellings.
  CHECK(text.find("umask = \"027\"\n") != std::string::npos);
  CHECK(text.find("wall_time = \"90s\"\n") != std::string::npos);
  CHECK(text.find("cpu_time = \"500ms\"\n") != std::string::npos);
  CHECK(text.find("memory = \"1536MiB\"\n") != std::string::npos);
  CHECK(text.find("pids = \"unlimited\"\n") != std::string::npos);
  CHECK(text.find("cpus = 2.0\n") != std::string::npos);
  CHECK(text.find("output = 1536\n") != std::string::npos);
  CHECK(text.find("errno = 4000\n") != std::string::npos);
  CHECK(text.find("\"dotted.name\" = \"v\"\n") != std::string::npos);
  CHECK(text.find("audit_log = \"/var/log/agentjail/audit.jsonl\"\n") != std::string::npos);
}

TEST_CASE("emit: errno is written as its name when it has one, fractional CPUs exactly") {
  Policy policy = load_ok("version = 1\n[seccomp]\nerrno = 38\n[limits]\ncpus = 0.1\n");
  std::string text = check_round_trip(policy);
  CHECK(text.find("errno = \"ENOSYS\"\n") != std::string::npos);
  CHECK(text.find("cpus = 0.1\n") != std::string::npos);
}

TEST_CASE("emit: JSON has the same content with bytes, milliseconds and null for unlimited") {
  Policy policy = load_ok(kEveryKey);
  nlohmann::json j = to_json(policy);
  CHECK(j["name"] == "every-key");
  CHECK(j["limits"]["wall_time_ms"] == 90'000);
  CHECK(j["limits"]["memory_bytes"] == 1536ull << 20);
  CHECK(j["limits"]["pids"].is_null());
  CHECK(j["limits"]["open_files"].is_null());
  CHECK(j["limits"]["cpus"] == 2.0);
  CHECK(j["process"]["umask"] == "027");
  CHECK(j["process"]["env"]["dotted.name"] == "v");
  CHECK(j["seccomp"]["errno"] == 4000);
  CHECK(j["network"]["mode"] == "loopback");
  CHECK(j["filesystem"]["mount"].size() == 8);
  CHECK(j["filesystem"]["mount"][2]["size_bytes"] == 64ull << 20);
  CHECK(j["filesystem"]["mount"][2]["mode"] == "1777");
  CHECK(j["filesystem"]["mount"][3]["size_bytes"].is_null());
  CHECK(j["namespaces"]["net"] == true);
  Policy defaults = load_ok("version = 1\n");
  CHECK(to_json(defaults)["audit_log"].is_null());
  CHECK(to_json(defaults)["landlock"] == "best-effort");
  CHECK(j["landlock"] == "required");
  CHECK(to_json(defaults)["seccomp"]["errno"] == "EPERM");
}

TEST_CASE("emit: sha256 identifies the effective policy, not its spelling") {
  Policy a = load_ok("version = 1\n[limits]\nmemory = \"256MiB\"\n");
  Policy b = load_ok("version = 1\n[limits]\nmemory = 268435456\n");
  Policy c = load_ok("version = 1\n[limits]\nmemory = \"255MiB\"\n");
  const std::string hash = sha256_hex(a);
  CHECK(hash.size() == 64);
  CHECK(hash.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(sha256_hex(b) == hash);
  CHECK(sha256_hex(c) != hash);
}
