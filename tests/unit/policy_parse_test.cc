// Policy parsing and validation: every kind of diagnostic, located at file:line:col.
#include <doctest/doctest.h>

#include <ios>
#include <string>

#include "policy/load.h"

using namespace aj::policy;

namespace {

struct Outcome {
  std::optional<Loaded> loaded;
  Diagnostics diagnostics;

  // Every diagnostic as `check` prints it (without the "agentjail: " prefix), one per line.
  std::string text() const {
    std::string out;
    for (const auto& d : diagnostics) out += d.format() + "\n";
    return out;
  }
};

Outcome load_toml(std::string_view text, std::string_view name = "p.toml") {
  Outcome outcome;
  outcome.loaded = load_text(text, name, "", outcome.diagnostics);
  return outcome;
}

// Loads text that must fail with exactly one diagnostic, and returns it.
Diagnostic only_error(std::string_view text) {
  Outcome outcome = load_toml(text);
  INFO(text);
  INFO(outcome.text());
  CHECK_FALSE(outcome.loaded.has_value());
  REQUIRE(outcome.diagnostics.size() == 1);
  return outcome.diagnostics[0];
}

Policy ok(std::string_view text) {
  Outcome outcome = load_toml(text);
  INFO(text);
  INFO(outcome.text());
  REQUIRE(outcome.diagnostics.empty());
  REQUIRE(outcome.loaded.has_value());
  return outcome.loaded->policy;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("policy: an empty policy is the model's defaults, named after its file") {
  Policy policy = ok("version = 1\n");
  Policy defaults;
  CHECK(policy.name == "p");
  CHECK(policy.process.cwd == defaults.process.cwd);
  CHECK(policy.limits.memory_bytes == defaults.limits.memory_bytes);
  CHECK(policy.seccomp.allow == defaults.seccomp.allow);
  CHECK(policy.filesystem.mounts.empty());
  CHECK(policy.namespaces.net);
  CHECK(load_toml("version = 1\n", "dir/my-policy.toml").loaded->policy.name == "my-policy");
}

TEST_CASE("policy: unknown key with a did-you-mean hint") {
  Diagnostic d = only_error("version = 1\n[limits]\nmemroy = \"64MiB\"\n");
  CHECK(d.format() == "p.toml:3:1: unknown key \"memroy\" (did you mean \"memory\"?)");
  CHECK(d.key == "limits.memroy");
  CHECK(d.hint == "did you mean \"memory\"?");
  CHECK(only_error("version = 1\n[filesytem]\n").format() ==
        "p.toml:2:2: unknown key \"filesytem\" (did you mean \"filesystem\"?)");
  CHECK(only_error("version = 1\nextnds = \"python\"\n").hint == "did you mean \"extends\"?");
  // Nothing close: no hint rather than a wild guess.
  CHECK(only_error("version = 1\n[process]\nbanana = 1\n").hint.empty());
}

TEST_CASE("policy: wrong types name the key, what was expected and what was found") {
  CHECK(only_error("version = 1\n[limits]\npids = \"lots\"\n").format() ==
        "p.toml:3:8: limits.pids: expected an integer or \"unlimited\", got a string");
  CHECK(only_error("version = 1\n[process]\nnew_session = \"yes\"\n").message ==
        "process.new_session: expected true or false, got a string");
  CHECK(only_error("version = 1\nprocess = 3\n").message == "process: expected a table, got an integer");
  CHECK(only_error("version = 1\n[process]\npass_env = \"TERM\"\n").message ==
        "process.pass_env: expected an array of strings, got a string");
  CHECK(only_error("version = 1\n[limits]\nmemory = 1.5\n").message ==
        "limits.memory: expected a size such as \"64MiB\", an integer or \"unlimited\", got a float");
  CHECK(only_error("version = 1\n[limits]\nwall_time = true\n").message ==
        "limits.wall_time: expected a duration such as \"10s\", a number of seconds or \"unlimited\", got a boolean");
  CHECK(only_error("version = 1\n[seccomp]\nallow = [\"read\", 3]\n").format() ==
        "p.toml:3:18: seccomp.allow: expected a system call name or @set, got an integer");
}

TEST_CASE("policy: values out of range") {
  CHECK(only_error("version = 1\n[process]\nuser = -1\n").message == "process.user: -1 is out of range (0..4294967294)");
  CHECK(only_error("version = 1\n[process]\ngroup = 4294967295\n").message ==
        "process.group: 4294967295 is out of range (0..4294967294)");
  CHECK(contains(only_error("version = 1\n[limits]\npids = 0\n").message, "limits.pids: 0 is out of range"));
  CHECK(contains(only_error("version = 1\n[limits]\ncpus = 2000\n").message, "limits.cpus: 2000 is out of range"));
  CHECK(contains(only_error("version = 1\n[limits]\nmemory = 0\n").message, "must not be 0"));
  CHECK(contains(only_error("version = 1\n[limits]\nwall_time = 0\n").message, "must not be 0"));
  CHECK(contains(only_error("version = 1\n[limits]\nmemory = -5\n").message, "-5 is negative"));
  CHECK(contains(only_error("version = 1\n[limits]\nmemory = \"17179869184GiB\"\n").message,
                 "limits.memory: invalid size \"17179869184GiB\": it is too large"));
  CHECK(contains(only_error("version = 1\n[limits]\noutput = \"unlimited\"\n").message, "cannot be \"unlimited\""));
  CHECK(contains(only_error("version = 1\n[seccomp]\nerrno = 0\n").message, "seccomp.errno: 0 is out of range"));
  CHECK(contains(only_error("version = 1\n[seccomp]\nerrno = 4096\n").message, "out of range (1..4095)"));
  CHECK(contains(only_error("version = 1\n[process]\numask = \"0888\"\n").message, "is not an octal number"));
  CHECK(contains(only_error("version = 1\n[process]\numask = 0o1000\n").message, "out of range"));
}

TEST_CASE("policy: limits accept sizes, durations and \"unlimited\"") {
  Policy policy = ok(R"(version = 1
[limits]
wall_time = "unlimited"
cpu_time = 1.5
memory = "1.5GiB"
pids = "unlimited"
cpus = 0.5
file_size = "unlimited"
open_files = 1024
stack = 8388608
core_size = "1M"
output = "512k"
)");
  CHECK_FALSE(policy.limits.wall_time_ms.has_value());
  CHECK(policy.limits.cpu_time_ms == 1500);
  CHECK(policy.limits.memory_bytes == 1536ull << 20);
  CHECK_FALSE(policy.limits.pids.has_value());
  CHECK(policy.limits.cpus == 0.5);
  CHECK_FALSE(policy.limits.file_size_bytes.has_value());
  CHECK(policy.limits.open_files == 1024);
  CHECK(policy.limits.stack_bytes == 8ull << 20);
  CHECK(policy.limits.core_size_bytes == 1ull << 20);
  CHECK(policy.limits.output_bytes == 512ull << 10);
  CHECK_FALSE(ok("version = 1\n[limits]\ncpus = \"unlimited\"\nmemory = \"Unlimited\"\n").limits.memory_bytes);
}

TEST_CASE("policy: bad enum values get a hint") {
  Diagnostic d = only_error("version = 1\n[network]\nmode = \"lopback\"\n");
  CHECK(d.format() == "p.toml:3:8: network.mode: \"lopback\" is not one of none, loopback, host, allowlist (did you mean \"loopback\"?)");
  CHECK(only_error("version = 1\n[seccomp]\ndefault_action = \"kil\"\n").hint == "did you mean \"kill\"?");
  CHECK(only_error("version = 1\n[seccomp]\nerrno = \"EPREM\"\n").hint == "did you mean \"EPERM\"?");
  CHECK(only_error("version = 1\n[[filesystem.mount]]\ntype = \"tmpf\"\ntarget = \"/t\"\n").hint ==
        "did you mean \"tmpfs\"?");
}

TEST_CASE("policy: version is required and must be 1") {
  CHECK(only_error("name = \"x\"\n").format() == "p.toml: missing required key \"version\" (add `version = 1` at the top)");
  CHECK(only_error("version = 2\n").format() == "p.toml:1:11: version: unsupported policy version 2 (this agentjail reads version 1)");
  CHECK(only_error("version = \"1\"\n").message == "version: expected the integer 1, got a string");
}

TEST_CASE("policy: paths must be absolute") {
  CHECK(only_error("version = 1\n[process]\ncwd = \"tmp\"\n").format() ==
        "p.toml:3:7: process.cwd: \"tmp\" is not an absolute path");
  CHECK(only_error("version = 1\naudit_log = \"log.jsonl\"\n").message == "audit_log: \"log.jsonl\" is not an absolute path");
  CHECK(only_error("version = 1\n[[filesystem.mount]]\ntype = \"bind\"\nsource = \"usr\"\ntarget = \"/usr\"\n").format() ==
        "p.toml:4:10: filesystem.mount.source: \"usr\" is not an absolute path");
  CHECK(only_error("version = 1\n[[filesystem.mount]]\ntype = \"tmpfs\"\ntarget = \"tmp\"\n").message ==
        "filesystem.mount.target: \"tmp\" is not an absolute path");
}

TEST_CASE("policy: mount targets have no . or .. components, are not / and not empty") {
  auto target = [](std::string_view path) {
    return only_error(std::string("version = 1\n[[filesystem.mount]]\ntype = \"tmpfs\"\ntarget = \"") + std::string(path) +
                      "\"\n");
  };
  Diagnostic d = target("/srv/../etc");
  CHECK(d.format() == "p.toml:4:10: filesystem.mount.target: \"/srv/../etc\" has a \"..\" component; write the path without it");
  CHECK(contains(target("/..").message, "\"..\" component"));
  CHECK(contains(target("/a/./b").message, "\".\" component"));
  CHECK(contains(target("/").message, "is the jail's root"));
  CHECK(contains(target("//").message, "is the jail's root"));
  CHECK(contains(target("").message, "must not be empty"));
  // Redundant slashes are only spelling: stored in normal form.
  Policy policy = ok("version = 1\n[[filesystem.mount]]\ntype = \"tmpfs\"\ntarget = \"//scratch//dir/\"\n");
  CHECK(policy.filesystem.mounts.at(0).target == "/scratch/dir");
}

TEST_CASE("policy: system calls and sets are checked against libseccomp and the set list") {
  CHECK(only_error("version = 1\n[seccomp]\nallow = [\"@default\", \"opne\"]\n").format() ==
        "p.toml:3:22: seccomp.allow: unknown system call \"opne\" (did you mean \"open\"?)");
  CHECK(only_error("version = 1\n[seccomp]\ndeny = [\"@netwrk\"]\n").format() ==
        "p.toml:3:9: seccomp.deny: unknown syscall set \"@netwrk\" (did you mean \"@network\"?)");
  Policy policy = ok("version = 1\n[seccomp]\nallow = [\"@default\", \"ptrace\", \"socketcall\"]\ndeny = [\"@network\"]\n");
  CHECK(policy.seccomp.allow == std::vector<std::string>{"@default", "ptrace", "socketcall"});
  CHECK(policy.seccomp.deny == std::vector<std::string>{"@network"});
}

TEST_CASE("policy: capabilities are normalized and only the safe ones may be kept") {
  Policy policy = ok("version = 1\n[capabilities]\nkeep = [\"cap_chown\", \"Chown\", \"CAP_NET_BIND_SERVICE\", \"setuid\"]\n");
  CHECK(policy.capabilities.keep == std::vector<std::string>{"CHOWN", "NET_BIND_SERVICE", "SETUID"});
  Diagnostic d = only_error("version = 1\n[capabilities]\nkeep = [\"SYS_ADMIN\"]\n");
  CHECK(d.format() ==
        "p.toml:3:9: capabilities.keep: SYS_ADMIN is not safe to keep in a jail (safe: CHOWN, DAC_OVERRIDE, "
        "DAC_READ_SEARCH, FOWNER, FSETID, KILL, SETGID, SETUID, NET_BIND_SERVICE)");
  CHECK(contains(only_error("version = 1\n[capabilities]\nkeep = [\"cap_sys_ptrace\"]\n").message, "not safe"));
  Diagnostic unknown = only_error("version = 1\n[capabilities]\nkeep = [\"CAP_CHWON\"]\n");
  CHECK(unknown.message == "capabilities.keep: unknown capability \"CAP_CHWON\"");
  CHECK(unknown.hint == "did you mean \"CHOWN\"?");
}

TEST_CASE("policy: TOML syntax errors carry toml++'s position") {
  Diagnostic d = only_error("version = 1\n[limits]\nmemory = \n");
  CHECK(d.file == "p.toml");
  CHECK(d.line == 3);
  CHECK(d.column == 10);
  CHECK(contains(d.message, "TOML syntax error"));
  Diagnostic dup = only_error("version = 1\n[process]\ncwd = \"/a\"\ncwd = \"/b\"\n");
  CHECK(dup.line == 4);
  CHECK(contains(dup.message, "TOML syntax error"));
}

TEST_CASE("policy: three different mistakes give three located diagnostics, in file order") {
  Outcome outcome = load_toml(R"(version = 1
[process]
cwd = "relative"
[limits]
memroy = "1G"
[[filesystem.mount]]
type = "bind"
source = "/srv"
target = "/a/../b"
)");
  CHECK_FALSE(outcome.loaded.has_value());
  CHECK(outcome.text() ==
        "p.toml:3:7: process.cwd: \"relative\" is not an absolute path\n"
        "p.toml:5:1: unknown key \"memroy\" (did you mean \"memory\"?)\n"
        "p.toml:9:10: filesystem.mount.target: \"/a/../b\" has a \"..\" component; write the path without it\n");
}

TEST_CASE("policy: process keys") {
  Policy policy = ok(R"(version = 1
[process]
cwd = "/work"
hostname = "build-1.example"
user = 0
group = 1000
host_user = 100000
host_group = 100001
env = { PATH = "/usr/bin", "weird.name" = "ok" }
pass_env = ["TERM", "LANG"]
new_session = false
umask = "027"
)");
  CHECK(policy.process.cwd == "/work");
  CHECK(policy.process.hostname == "build-1.example");
  CHECK(policy.process.user == 0);  // root of the jail's user namespace only
  CHECK(policy.process.host_user == 100000);
  CHECK(policy.process.host_group == 100001);
  CHECK(policy.process.env.at("weird.name") == "ok");
  CHECK(policy.process.pass_env == std::vector<std::string>{"TERM", "LANG"});
  CHECK_FALSE(policy.process.new_session);
  CHECK(policy.process.umask == 027);
  CHECK(ok("version = 1\n[process]\numask = 0o22\n").process.umask == 022);
  CHECK(ok("version = 1\n[process]\numask = 7\n").process.umask == 7);
  CHECK(only_error("version = 1\n[process]\numask = 22\n").hint == "write \"22\" or 0o22");

  CHECK(only_error("version = 1\n[process]\nhost_user = 0\n").format() ==
        "p.toml:3:13: process.host_user: 0 would map the jail to host root, which agentjail never does");
  CHECK(contains(only_error("version = 1\n[process]\nhost_group = 0\n").message, "host root"));
  CHECK(contains(only_error("version = 1\n[process]\nhostname = \"-bad\"\n").message, "starts or ends with '-'"));
  CHECK(contains(only_error("version = 1\n[process]\nhostname = \"a_b\"\n").message, "not a valid host name"));
  CHECK(contains(only_error(std::string("version = 1\n[process]\nhostname = \"") + std::string(65, 'a') + "\"\n").message,
                 "longer than 64"));
  CHECK(contains(only_error("version = 1\n[process]\nenv = { \"A=B\" = \"x\" }\n").message, "contains '='"));
  CHECK(contains(only_error("version = 1\n[process]\nenv = { \"\" = \"x\" }\n").message, "must not be empty"));
  CHECK(contains(only_error("version = 1\n[process]\nenv = { A = \"x\\u0000y\" }\n").message, "NUL"));
  CHECK(only_error("version = 1\n[process]\nenv = { A = 1 }\n").message == "process.env.A: expected a string, got an integer");
  CHECK(contains(only_error("version = 1\n[process]\npass_env = [\"A=B\"]\n").message, "contains '='"));
}

TEST_CASE("policy: network mode and the net namespace stay consistent") {
  Policy host = ok("version = 1\n[network]\nmode = \"host\"\n");
  CHECK(host.network.mode == NetworkMode::host);
  CHECK_FALSE(host.namespaces.net);
  CHECK(ok("version = 1\n[network]\nmode = \"loopback\"\n").namespaces.net);
  CHECK_FALSE(ok("version = 1\n[network]\nmode = \"host\"\n[namespaces]\nnet = false\n").namespaces.net);
  CHECK(contains(only_error("version = 1\n[network]\nmode = \"host\"\n[namespaces]\nnet = true\n").message,
                 "namespaces.net: cannot be true with network.mode = \"host\""));
  CHECK(only_error("version = 1\n[namespaces]\nnet = false\n").format() ==
        "p.toml:3:7: namespaces.net: cannot be false with network.mode = \"none\" (only \"host\" shares the caller's "
        "network)");
}

TEST_CASE("policy: user, mount and pid namespaces cannot be turned off, and the error says why") {
  CHECK(contains(only_error("version = 1\n[namespaces]\nuser = false\n").message,
                 "namespaces.user: cannot be false: agentjail maps ids"));
  CHECK(contains(only_error("version = 1\n[namespaces]\nmount = false\n").message, "mount namespace"));
  CHECK(contains(only_error("version = 1\n[namespaces]\npid = false\n").message, "pid namespace"));
  Policy policy = ok("version = 1\n[namespaces]\nipc = false\nuts = false\ncgroup = false\nuser = true\n");
  CHECK_FALSE(policy.namespaces.ipc);
  CHECK_FALSE(policy.namespaces.uts);
  CHECK_FALSE(policy.namespaces.cgroup);
}

TEST_CASE("policy: every mount type with its own keys and defaults") {
  Policy policy = ok(R"(version = 1
[[filesystem.mount]]
type = "bind"
source = "/srv/data"
target = "/data"
[[filesystem.mount]]
type = "bind"
source = "/srv/out"
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
mode = 0o700
read_only = true
[[filesystem.mount]]
type = "proc"
target = "/proc"
[[filesystem.mount]]
type = "dev"
target = "/dev"
[[filesystem.mount]]
type = "symlink"
source = "usr/bin"
target = "/bin"
[[filesystem.mount]]
type = "file"
target = "/etc/hostname"
content = "jail\n"
exec = false
)");
  const auto& m = policy.filesystem.mounts;
  REQUIRE(m.size() == 8);
  CHECK(m[0].type == MountType::bind);
  CHECK(m[0].read_only);
  CHECK_FALSE(m[0].optional);
  CHECK(m[0].exec);
  CHECK(m[0].pos.line == 2);
  CHECK_FALSE(m[1].read_only);
  CHECK(m[1].optional);
  CHECK_FALSE(m[1].exec);
  CHECK(m[2].type == MountType::tmpfs);
  CHECK_FALSE(m[2].read_only);
  CHECK(m[2].size == 64ull << 20);
  CHECK(m[2].mode == 01777u);
  CHECK(m[3].mode == 0700u);
  CHECK_FALSE(m[3].size.has_value());
  CHECK(m[3].read_only);
  CHECK(m[4].type == MountType::proc);
  CHECK(m[5].type == MountType::dev);
  CHECK(m[6].source == "usr/bin");
  CHECK(m[7].content == "jail\n");
  CHECK(m[7].read_only);
  CHECK_FALSE(m[7].exec);
}

TEST_CASE("policy: mount problems") {
  auto mount = [](std::string_view body) { return only_error(std::string("version = 1\n[[filesystem.mount]]\n") + std::string(body)); };
  CHECK(mount("type = \"bind\"\nsource = \"/srv\"\ntarget = \"/srv\"\nsize = \"1G\"\n").format() ==
        "p.toml:6:8: filesystem.mount: \"size\" does not apply to a mount of type \"bind\"");
  CHECK(contains(mount("type = \"proc\"\ntarget = \"/proc\"\nread_only = true\n").message,
                 "\"read_only\" does not apply to a mount of type \"proc\""));
  CHECK(contains(mount("type = \"symlink\"\nsource = \"x\"\ntarget = \"/x\"\nexec = false\n").message, "does not apply"));
  CHECK(mount("type = \"bind\"\ntarget = \"/srv\"\n").format() ==
        "p.toml:2:1: filesystem.mount: missing \"source\" (required for a bind mount)");
  CHECK(contains(mount("type = \"tmpfs\"\n").message, "missing \"target\""));
  CHECK(contains(mount("target = \"/x\"\n").message, "missing \"type\""));
  CHECK(contains(mount("type = \"file\"\ntarget = \"/f\"\n").message, "missing \"content\""));
  CHECK(contains(mount("type = \"symlink\"\nsource = \"\"\ntarget = \"/l\"\n").message, "must not be empty"));
  CHECK(contains(mount("type = \"file\"\ntarget = \"/f\"\ncontent = \"x\"\nread_only = false\n").message,
                 "always read-only"));
  CHECK(contains(mount("type = \"tmpfs\"\ntarget = \"/t\"\nmode = 755\n").message, "decimal"));
  CHECK(contains(mount("type = \"tmpfs\"\ntarget = \"/t\"\nmode = \"17777\"\n").message, "out of range"));
  CHECK(contains(mount("type = \"tmpfs\"\ntarget = \"/t\"\nsize = 0\n").message, "at least"));
  CHECK(mount("type = \"tmpfs\"\ntarget = \"/t\"\nsizee = 1\n").hint == "did you mean \"size\"?");
  CHECK(contains(only_error("version = 1\n[filesystem]\nmount = 1\n").message, "expected an array of tables"));
}

TEST_CASE("policy: a target twice in one file is an error") {
  Diagnostic d = only_error(R"(version = 1
[[filesystem.mount]]
type = "tmpfs"
target = "/tmp"
[[filesystem.mount]]
type = "tmpfs"
target = "/tmp/"
)");
  CHECK(d.format() == "p.toml:5:1: filesystem.mount: duplicate target \"/tmp\" (first at line 2)");
}

TEST_CASE("policy: seccomp keys") {
  Policy policy = ok(R"(version = 1
[seccomp]
default_action = "kill"
errno = "ENOSYS"
allow = ["@default", "@network"]
deny = ["socket"]
notify = false
)");
  CHECK(policy.seccomp.default_action == SeccompAction::kill);
  CHECK(policy.seccomp.errno_value == ENOSYS);
  CHECK_FALSE(policy.seccomp.notify);
  CHECK(ok("version = 1\n[seccomp]\nerrno = 13\n").seccomp.errno_value == EACCES);
  CHECK(ok("version = 1\n[seccomp]\nerrno = \"EWOULDBLOCK\"\n").seccomp.errno_value == EAGAIN);
  CHECK(ok("version = 1\n[seccomp]\nallow = []\n").seccomp.allow.empty());
}

TEST_CASE("policy: loading by name and by path") {
  Diagnostics diagnostics;
  CHECK_FALSE(load("pyhton", diagnostics).has_value());
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].format() == "pyhton: unknown built-in policy \"pyhton\" (did you mean \"python\"?)");
  diagnostics.clear();
  CHECK_FALSE(load("/nonexistent/agentjail/policy.toml", diagnostics).has_value());
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].format() == "/nonexistent/agentjail/policy.toml: cannot read: No such file or directory");
  diagnostics.clear();
  CHECK_FALSE(load("shell.toml", diagnostics).has_value());
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].format() ==
        "shell.toml: cannot read: No such file or directory (did you mean the built-in policy \"shell\"?)");
  diagnostics.clear();
  CHECK_FALSE(load("/dev/null/x.toml", diagnostics).has_value());
  diagnostics.clear();
  // A device is not a policy: refused before reading, so /dev/zero cannot keep us reading.
  CHECK_FALSE(load("/dev/zero", diagnostics).has_value());
  REQUIRE(diagnostics.size() == 1);
  CHECK(contains(diagnostics[0].message, "not a regular file"));
  diagnostics.clear();
  auto loaded = load(AGENTJAIL_SOURCE_DIR "/policies/python.toml", diagnostics);
  REQUIRE(loaded.has_value());
  CHECK(loaded->source == AGENTJAIL_SOURCE_DIR "/policies/python.toml");
  CHECK(loaded->policy.name == "python");
  auto builtin = load("python", diagnostics);
  REQUIRE(builtin.has_value());
  CHECK(builtin->source == "builtin:python");
}

// toml++ 3.3.0 reaches a TOML_UNREACHABLE (undefined behaviour) when it asks whether a non-ASCII
// code point outside a string is whitespace (marzer/tomlplusplus#190 and #295, fixed upstream by
// #305, not in Debian bookworm). The fuzzer found it. Policies are written by the operator, not
// by jailed code, but the loader must still fail cleanly: this pins down that the library we
// link refuses every such code point with a located syntax error instead of misbehaving.
TEST_CASE("policy: non-ASCII characters outside strings are syntax errors, never a crash") {
  auto utf8 = [](char32_t c) {
    std::string out;
    if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
    } else {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    }
    out += static_cast<char>(0x80 | (c & 0x3F));
    return out;
  };
  size_t refused = 0, checked = 0;
  for (char32_t c = 0xA0; c <= 0xFFFD; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;  // surrogates are not characters
    const std::string ch = utf8(c);
    for (const std::string& text : {"version = 1\n" + ch + " = 1\n", "version = 1\na" + ch + " = 1\n",
                                    "version = 1 " + ch + "\n", "version = 1\nx = {a" + ch + " = 1}\n"}) {
      Diagnostics diagnostics;
      auto loaded = load_text(text, "p.toml", "", diagnostics);
      ++checked;
      if (!loaded && diagnostics.size() == 1 && diagnostics[0].message.starts_with("TOML syntax error") &&
          diagnostics[0].line == 2 - (text.starts_with("version = 1 ") ? 1 : 0))
        ++refused;
      else
        FAIL_CHECK("U+" << std::hex << static_cast<uint32_t>(c) << " was not refused cleanly");
    }
  }
  CHECK(refused == checked);
}

TEST_CASE("policy: landlock is best-effort unless the policy says otherwise") {
  CHECK(ok("version = 1\n").landlock == LandlockMode::best_effort);
  CHECK(ok("version = 1\nlandlock = \"off\"\n").landlock == LandlockMode::off);
  CHECK(ok("version = 1\nlandlock = \"required\"\n").landlock == LandlockMode::required);
  CHECK(only_error("version = 1\nlandlock = \"require\"\n").format() ==
        "p.toml:2:12: landlock: \"require\" is not one of off, best-effort, required (did you mean \"required\"?)");
  CHECK(only_error("version = 1\nlandlock = true\n").message.starts_with("landlock: expected"));
}
