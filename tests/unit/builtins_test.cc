// The built-in policies: each loads cleanly, matches its file under policies/, and exposes
// only what it needs on a Debian bookworm host.
#include "policy/builtins.h"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "policy/load.h"

using namespace aj::policy;

namespace {

Policy load_builtin(std::string_view name) {
  Diagnostics diagnostics;
  auto loaded = load(name, diagnostics);
  std::string text;
  for (const auto& d : diagnostics) text += d.format() + "\n";
  INFO(text);
  REQUIRE(diagnostics.empty());
  REQUIRE(loaded.has_value());
  CHECK(loaded->source == "builtin:" + std::string(name));
  return loaded->policy;
}

const Mount* find_mount(const Policy& policy, std::string_view target) {
  for (const auto& mount : policy.filesystem.mounts)
    if (mount.target == target) return &mount;
  return nullptr;
}

}  // namespace

TEST_CASE("builtins: the documented set exists, each named after its file with a description") {
  std::set<std::string> names;
  for (const auto& builtin : builtins()) names.emplace(builtin.name);
  for (const char* expected : {"default", "python", "node", "shell", "ci"}) CHECK(names.count(expected) == 1);
  for (const auto& builtin : builtins()) {
    INFO(builtin.name);
    CHECK_FALSE(builtin.description.empty());
    CHECK(find_builtin(builtin.name) == &builtin);
    std::ifstream file(std::string(AGENTJAIL_SOURCE_DIR "/policies/") + std::string(builtin.name) + ".toml");
    std::stringstream text;
    text << file.rdbuf();
    CHECK(text.str() == builtin.text);  // the embedded copy is the file, byte for byte
  }
  CHECK(find_builtin("nonexistent") == nullptr);
}

TEST_CASE("builtins: every one loads without a diagnostic and keeps its name and description") {
  for (const auto& builtin : builtins()) {
    INFO(builtin.name);
    Policy policy = load_builtin(builtin.name);
    CHECK(policy.name == builtin.name);
    CHECK(policy.description == builtin.description);
  }
}

TEST_CASE("builtins: least exposure — no host network, no blanket /etc, no home directories") {
  for (const auto& builtin : builtins()) {
    INFO(builtin.name);
    Policy policy = load_builtin(builtin.name);
    CHECK(policy.network.mode == NetworkMode::none);
    CHECK(policy.capabilities.keep.empty());
    CHECK(policy.seccomp.default_action == SeccompAction::errno_);
    // No built-in names a host uid: each jail run by root gets one of its own.
    CHECK_FALSE(policy.process.host_user.has_value());
    CHECK_FALSE(policy.process.host_group.has_value());
    CHECK(policy.limits.wall_time_ms.has_value());
    CHECK(policy.limits.memory_bytes.has_value());
    CHECK(policy.limits.pids.has_value());
    for (const auto& mount : policy.filesystem.mounts) {
      INFO(mount.target);
      for (const char* forbidden : {"/", "/etc", "/home", "/root", "/var", "/run", "/srv", "/sys", "/boot", "/mnt"}) {
        CHECK(mount.target != forbidden);
        CHECK(mount.source != forbidden);
      }
      if (mount.type == MountType::bind) {
        CHECK(mount.read_only);  // nothing of the host is writable by default
        struct stat st{};
        // Every bind must exist on a Debian bookworm host unless it is marked optional.
        if (!mount.optional) CHECK(::stat(mount.source.c_str(), &st) == 0);
      }
    }
    // The pieces every interpreter needs: the system, a scratch /tmp, /proc and /dev.
    CHECK(find_mount(policy, "/usr") != nullptr);
    CHECK(find_mount(policy, "/tmp") != nullptr);
    CHECK(find_mount(policy, "/proc") != nullptr);
    CHECK(find_mount(policy, "/dev") != nullptr);
  }
}

TEST_CASE("builtins: the interpreters they are for are inside what they mount") {
  // Debian bookworm has a merged /usr: /bin -> usr/bin, so /usr holds every interpreter.
  struct Case {
    const char* policy;
    const char* program;
  };
  for (auto [name, program] : {Case{"python", "/usr/bin/python3"}, Case{"shell", "/usr/bin/bash"},
                               Case{"node", "/usr/bin/node"}, Case{"ci", "/usr/bin/make"}}) {
    INFO(name);
    Policy policy = load_builtin(name);
    const Mount* usr = find_mount(policy, "/usr");
    REQUIRE(usr != nullptr);
    CHECK(usr->source == "/usr");
    struct stat st{};
    if (::stat(program, &st) != 0) continue;  // the host lacks it; nothing to check against
    CHECK(std::string(program).starts_with(usr->target + "/"));
  }
  CHECK(find_mount(load_builtin("ci"), "/work") != nullptr);
  const Policy ci = load_builtin("ci");
  CHECK(ci.process.cwd == "/work");
}
