// `extends`: chains of files and built-ins, the merge rules, cycles and missing parents.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "policy/load.h"

using namespace aj::policy;

namespace {

// A scratch directory of policy files, removed at the end of the test.
class PolicyDir {
 public:
  PolicyDir() {
    char name[] = "/tmp/agentjail-policy-test-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path_ = name;
  }
  ~PolicyDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  // Writes `text` to path/relative (creating directories) and returns the full path.
  std::string write(const std::string& relative, std::string_view text) const {
    std::filesystem::path file = std::filesystem::path(path_) / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string joined(const Diagnostics& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.format() + "\n";
  return out;
}

Policy ok(const std::string& path) {
  Diagnostics diagnostics;
  auto loaded = load(path, diagnostics);
  INFO(joined(diagnostics));
  REQUIRE(diagnostics.empty());
  REQUIRE(loaded.has_value());
  return loaded->policy;
}

Diagnostics errors(const std::string& path) {
  Diagnostics diagnostics;
  CHECK_FALSE(load(path, diagnostics).has_value());
  CHECK_FALSE(diagnostics.empty());
  return diagnostics;
}

std::vector<std::string> targets(const Policy& policy) {
  std::vector<std::string> out;
  for (const auto& mount : policy.filesystem.mounts) out.push_back(mount.target);
  return out;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("extends: a chain of relative paths down to a built-in, merged level by level") {
  PolicyDir dir;
  dir.write("base/a.toml", R"(version = 1
extends = "python"
description = "level a"
[process]
env = { LEVEL = "a", FROM_A = "1" }
[limits]
memory = "128MiB"
pids = 10
[seccomp]
allow = ["@default", "@network"]
)");
  dir.write("sub/b.toml", R"(version = 1
extends = "../base/a.toml"
name = "bee"
[process]
env = { LEVEL = "b" }
[limits]
pids = 20
)");
  std::string c = dir.write("c.toml", R"(version = 1
extends = "sub/b.toml"
[limits]
wall_time = "5s"
[seccomp]
allow = ["@default"]
)");
  Policy policy = ok(c);
  CHECK(policy.name == "c");            // `name` is not inherited: a file is named after itself
  CHECK(policy.description.empty());    // nor is `description`
  CHECK(policy.process.env.at("LEVEL") == "b");
  CHECK(policy.process.env.at("FROM_A") == "1");
  CHECK(policy.process.env.at("PYTHONUNBUFFERED") == "1");  // from the built-in python
  CHECK(policy.process.env.at("PATH") == "/usr/local/bin:/usr/bin:/bin");  // from default, python's parent
  CHECK(policy.limits.memory_bytes == 128ull << 20);
  CHECK(policy.limits.pids == 20);
  CHECK(policy.limits.wall_time_ms == 5000);
  CHECK(policy.limits.cpu_time_ms == 10'000);
  CHECK(policy.seccomp.allow == std::vector<std::string>{"@default"});  // arrays replace
  CHECK(policy.process.pass_env == std::vector<std::string>{"TERM"});
  CHECK(policy.filesystem.mounts.size() == ok("python").filesystem.mounts.size());  // inherited as they are
  CHECK(ok(dir.path() + "/sub/b.toml").name == "bee");
}

TEST_CASE("extends: inherited values keep the file and line that set them") {
  PolicyDir dir;
  std::string child = dir.write("child.toml", "version = 1\nextends = \"default\"\n");
  Policy policy = ok(child);
  REQUIRE_FALSE(policy.filesystem.mounts.empty());
  CHECK(policy.filesystem.mounts[0].pos.file == "builtin:default");
  CHECK(policy.filesystem.mounts[0].pos.line > 30);
  // A problem in a parent is reported in the parent, through the child.
  dir.write("parent.toml", "version = 1\n[process]\n\ncwd = \"relative\"\n");
  Diagnostics diagnostics = errors(dir.write("kid.toml", "version = 1\nextends = \"parent.toml\"\n"));
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].format() == dir.path() + "/parent.toml:4:7: process.cwd: \"relative\" is not an absolute path");
}

TEST_CASE("extends: diagnostics name the file as the user wrote the path") {
  PolicyDir dir;
  dir.write("p/parent.toml", "version = 1\n[limits]\npids = \"x\"\n");
  dir.write("p/child.toml", "version = 1\nextends = \"parent.toml\"\n[limits]\nmemroy = 1\n");
  const std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  Diagnostics diagnostics;
  CHECK_FALSE(load("p/child.toml", diagnostics).has_value());
  std::filesystem::current_path(cwd);
  // The asked-for file first, then its parent, each by position.
  CHECK(joined(diagnostics) ==
        "p/child.toml:4:1: unknown key \"memroy\" (did you mean \"memory\"?)\n"
        "p/parent.toml:3:8: limits.pids: expected an integer or \"unlimited\", got a string\n");
}

TEST_CASE("extends: mounts append, replace in place and can be removed") {
  PolicyDir dir;
  dir.write("parent.toml", R"(version = 1
[[filesystem.mount]]
type = "bind"
source = "/usr"
target = "/usr"
[[filesystem.mount]]
type = "tmpfs"
target = "/tmp"
size = "64MiB"
[[filesystem.mount]]
type = "proc"
target = "/proc"
[[filesystem.mount]]
type = "dev"
target = "/dev"
)");
  std::string child = dir.write("child.toml", R"(version = 1
extends = "parent.toml"
[filesystem]
remove = ["/proc/", "/dev"]
[[filesystem.mount]]
type = "bind"
source = "/srv/work"
target = "/tmp"
read_only = false
[[filesystem.mount]]
type = "tmpfs"
target = "/scratch"
[[filesystem.mount]]
type = "dev"
target = "/dev"
)");
  Policy policy = ok(child);
  // /tmp replaced where it stood (second), /proc removed, /dev removed and re-added at the end.
  CHECK(targets(policy) == std::vector<std::string>{"/usr", "/tmp", "/scratch", "/dev"});
  CHECK(policy.filesystem.mounts[1].type == MountType::bind);
  CHECK(policy.filesystem.mounts[1].source == "/srv/work");
  CHECK_FALSE(policy.filesystem.mounts[1].read_only);
  CHECK(policy.filesystem.mounts[1].pos.file == child);
  CHECK(policy.filesystem.mounts[0].pos.file == dir.path() + "/parent.toml");
}

TEST_CASE("extends: removing a mount nothing inherited is an error") {
  PolicyDir dir;
  std::string child = dir.write("child.toml", R"(version = 1
extends = "default"
[filesystem]
remove = ["/tmp", "/nothere"]
)");
  Diagnostics diagnostics = errors(child);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].format() == child + ":4:19: filesystem.remove: no inherited mount has target \"/nothere\"");
  // In a file that extends nothing, every removal is an error.
  Diagnostics alone = errors(dir.write("alone.toml", "version = 1\n[filesystem]\nremove = [\"/tmp\"]\n"));
  REQUIRE(alone.size() == 1);
  CHECK(contains(alone[0].message, "no inherited mount"));
  CHECK(contains(errors(dir.write("bad.toml", "version = 1\n[filesystem]\nremove = \"/tmp\"\n"))[0].message,
                 "filesystem.remove: expected an array of mount targets, got a string"));
}

TEST_CASE("extends: a cycle is an error that shows the chain") {
  PolicyDir dir;
  std::string a = dir.write("a.toml", "version = 1\nextends = \"b.toml\"\n");
  dir.write("b.toml", "version = 1\nextends = \"./sub/../a.toml\"\n");
  Diagnostics diagnostics = errors(a);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].file == dir.path() + "/b.toml");
  CHECK(diagnostics[0].line == 2);
  CHECK(diagnostics[0].message ==
        "extends: cycle: " + a + " -> " + dir.path() + "/b.toml -> " + dir.path() + "/a.toml");
  std::string self = dir.write("self.toml", "version = 1\nextends = \"self.toml\"\n");
  CHECK(errors(self)[0].message == "extends: cycle: " + self + " -> " + self);
}

TEST_CASE("extends: a missing parent is an error that shows the chain") {
  PolicyDir dir;
  std::string a = dir.write("a.toml", "version = 1\nextends = \"b.toml\"\n");
  dir.write("b.toml", "version = 1\nextends = \"missing.toml\"\n");
  Diagnostics diagnostics = errors(a);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].format() == dir.path() + "/b.toml:2:11: extends: \"" + dir.path() +
                                       "/missing.toml\": cannot read: No such file or directory (" + a + " -> " +
                                       dir.path() + "/b.toml -> " + dir.path() + "/missing.toml)");
  Diagnostics file_for_builtin = errors(dir.write("b2.toml", "version = 1\nextends = \"python.toml\"\n"));
  CHECK(file_for_builtin[0].hint == "did you mean the built-in policy \"python\"?");
  Diagnostics builtin = errors(dir.write("c.toml", "version = 1\nextends = \"pyhton\"\n"));
  CHECK(builtin[0].message == "extends: unknown built-in policy \"pyhton\"");
  CHECK(builtin[0].hint == "did you mean \"python\"?");
  CHECK(errors(dir.write("d.toml", "version = 1\nextends = 3\n"))[0].message == "extends: expected a string, got an integer");
  CHECK(contains(errors(dir.write("e.toml", "version = 1\nextends = \"\"\n"))[0].message, "must name"));
  CHECK(contains(errors(dir.write("f.toml", "version = 1\nextends = \"/dev/zero\"\n"))[0].message, "not a regular file"));
}

TEST_CASE("extends: every file of the chain needs version = 1") {
  PolicyDir dir;
  dir.write("parent.toml", "[limits]\npids = 3\n");
  Diagnostics diagnostics = errors(dir.write("child.toml", "version = 1\nextends = \"parent.toml\"\n"));
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].format() ==
        dir.path() + "/parent.toml: missing required key \"version\" (add `version = 1` at the top)");
}

TEST_CASE("extends: chains are capped in depth") {
  PolicyDir dir;
  for (int i = 0; i < 12; ++i)
    dir.write("p" + std::to_string(i) + ".toml", "version = 1\nextends = \"p" + std::to_string(i + 1) + ".toml\"\n");
  dir.write("p12.toml", "version = 1\n");
  Diagnostics diagnostics = errors(dir.path() + "/p0.toml");
  REQUIRE(diagnostics.size() == 1);
  CHECK(contains(diagnostics[0].message, "chain is longer than 8 files"));
  CHECK(ok(dir.path() + "/p5.toml").name == "p5");  // 8 files: allowed
}

TEST_CASE("extends: paths need a base directory; built-in names always work") {
  Diagnostics diagnostics;
  CHECK_FALSE(load_text("version = 1\nextends = \"other.toml\"\n", "fuzz.toml", "", diagnostics).has_value());
  REQUIRE(diagnostics.size() == 1);
  CHECK(contains(diagnostics[0].message, "not available"));
  diagnostics.clear();
  auto loaded = load_text("version = 1\nextends = \"shell\"\n", "mine.toml", "", diagnostics);
  REQUIRE(loaded.has_value());
  CHECK(loaded->policy.process.env.at("SHELL") == "/bin/bash");
}

TEST_CASE("extends: the network mode of a child wins and the namespace follows it") {
  PolicyDir dir;
  dir.write("host.toml", "version = 1\n[network]\nmode = \"host\"\n");
  Policy child = ok(dir.write("child.toml", "version = 1\nextends = \"host.toml\"\n[network]\nmode = \"loopback\"\n"));
  CHECK(child.network.mode == NetworkMode::loopback);
  CHECK(child.namespaces.net);
  Policy inherits = ok(dir.write("inherits.toml", "version = 1\nextends = \"host.toml\"\n"));
  CHECK_FALSE(inherits.namespaces.net);
}
