// The command's arguments that name files of the caller's working directory: found on the
// host without following a symlink (host/host.h probe_cwd_args), judged against the plan's
// mounts (plan/cwd_args.h).
#include "plan/cwd_args.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "plan/build.h"

using namespace aj;

namespace {

host::Host fake_host() {
  host::Host host;
  host.uid = host.euid = 1000;
  host.gid = host.egid = 1000;
  host.userns = host.unprivileged_userns = true;
  host.seccomp = host.seccomp_notify = true;
  return host;
}

policy::Policy python_like() {
  policy::Policy p;
  p.process.env = {{"PATH", "/usr/bin:/bin"}};
  p.process.cwd = "/tmp";
  p.filesystem.mounts.push_back({.type = policy::MountType::bind, .source = "/usr", .target = "/usr"});
  p.filesystem.mounts.push_back({.type = policy::MountType::tmpfs, .target = "/tmp"});
  return p;
}

host::CallerCwd project_cwd(std::vector<std::string> args) {
  host::CallerCwd cwd{.path = "/home/u/proj", .args = {}};
  for (auto& arg : args)
    cwd.args.push_back({arg, arg.front() == '/' ? arg : "/home/u/proj/" + arg});
  return cwd;
}

// Changes to a fresh directory for the test's lifetime, and back.
struct InTempDir {
  std::string path = "/tmp/agentjail-cwd-args-XXXXXX", old;
  InTempDir() {
    char buf[4096];
    old = ::getcwd(buf, sizeof buf);
    REQUIRE(::mkdtemp(path.data()) != nullptr);
    REQUIRE(::chdir(path.c_str()) == 0);
  }
  ~InTempDir() {
    (void)!::chdir(old.c_str());
    (void)!std::system(("rm -rf '" + path + "'").c_str());
  }
};

}  // namespace

TEST_CASE("a file of the caller's cwd that no mount shows is unseen; a workspace of the cwd shows it") {
  auto host = fake_host();
  host.caller_cwd = project_cwd({"x.py", "data/in.csv"});
  auto plan = plan::build(python_like(), host, {"python3", "x.py", "data/in.csv"}, {});
  REQUIRE(plan);
  CHECK(plan::unseen_cwd_args(*host.caller_cwd, *plan) == std::vector<std::string>{"x.py", "data/in.csv"});
  const std::string& warning = plan->unseen_cwd_args_warning;
  CHECK(warning.find("x.py, data/in.csv are in the caller's directory /home/u/proj") != std::string::npos);
  CHECK(warning.find("-w .") != std::string::npos);
  // Decided, not yet said: the report adds it only when the command fails.
  for (const auto& w : plan->warnings) CHECK(w.find("caller's directory") == std::string::npos);

  auto with_workspace = python_like();
  with_workspace.workspace = policy::Workspace{.source = "."};
  host.workspace = host::WorkspaceSource{.path = "/home/u/proj", .is_dir = true, .uid = 1000, .gid = 1000};
  auto seen = plan::build(with_workspace, host, {"python3", "x.py", "data/in.csv"}, {});
  REQUIRE(seen);
  CHECK(seen->cwd == "/work");
  CHECK(seen->unseen_cwd_args_warning.empty());

  with_workspace.workspace->mode = policy::WorkspaceMode::overlay;
  host.kernel = "6.1.0", host.kernel_major = 6, host.kernel_minor = 1;
  auto overlaid = plan::build(with_workspace, host, {"python3", "x.py"}, {});
  REQUIRE(overlaid);
  CHECK(overlaid->unseen_cwd_args_warning.empty());
}

TEST_CASE("a bind shows a cwd file only at the path the command gives") {
  auto host = fake_host();
  host.caller_cwd = project_cwd({"x.py", "/home/u/proj/y.py"});
  auto policy = python_like();
  // The project at /src: the jail's cwd (/tmp) has no x.py, and /home/u/proj/y.py is not there.
  policy.filesystem.mounts.push_back({.type = policy::MountType::bind, .source = "/home/u/proj", .target = "/src"});
  auto plan = plan::build(policy, host, {"python3", "x.py", "/home/u/proj/y.py"}, {});
  REQUIRE(plan);
  CHECK(plan::unseen_cwd_args(*host.caller_cwd, *plan) == std::vector<std::string>{"x.py", "/home/u/proj/y.py"});
  CHECK(plan->unseen_cwd_args_warning.find("-w .:/home/u/proj") != std::string::npos);

  // --cwd /src shows x.py; a bind of the parent at the same path shows y.py.
  policy.process.cwd = "/src";
  policy.process.cwd_from_option = true;
  policy.filesystem.mounts.push_back({.type = policy::MountType::bind, .source = "/home/u", .target = "/home/u"});
  plan = plan::build(policy, host, {"python3", "x.py", "/home/u/proj/y.py"}, {});
  REQUIRE(plan);
  CHECK(plan::unseen_cwd_args(*host.caller_cwd, *plan).empty());

  // A tmpfs over the bind hides it again.
  policy.filesystem.mounts.push_back({.type = policy::MountType::tmpfs, .target = "/home/u/proj"});
  plan = plan::build(policy, host, {"python3", "/home/u/proj/y.py"}, {});
  REQUIRE(plan);
  CHECK(plan::unseen_cwd_args(*host.caller_cwd, *plan) == std::vector<std::string>{"/home/u/proj/y.py"});
}

TEST_CASE("no caller cwd looked at (serve, a pooled jail): nothing to say") {
  auto plan = plan::build(python_like(), fake_host(), {"python3", "x.py"}, {});
  REQUIRE(plan);
  CHECK(plan->unseen_cwd_args_warning.empty());
}

TEST_CASE("the cwd probe finds existing entries only, never through a symlink, and no options") {
  InTempDir dir;
  std::ofstream("x.py") << "print(1)\n";
  REQUIRE(::mkdir("sub", 0755) == 0);
  std::ofstream("sub/in.csv") << "a\n";
  REQUIRE(::symlink("/etc", "etc-link") == 0);
  REQUIRE(::symlink("/etc/passwd", "passwd-link") == 0);
  std::string cwd;
  {
    char buf[4096];
    REQUIRE(::getcwd(buf, sizeof buf));
    cwd = buf;
  }
  auto found = host::probe_cwd_args({"python3", "x.py", "missing.py", "sub/in.csv", "./sub/./in.csv", cwd + "/x.py",
                                     "--file=x.py", "-x.py", "etc-link/passwd", "passwd-link", "../x.py",
                                     "sub/../x.py", "/etc/passwd", cwd, "."});
  CHECK(found.path == cwd);
  std::vector<std::string> args, paths;
  for (const auto& arg : found.args) args.push_back(arg.arg), paths.push_back(arg.path);
  // passwd-link is an entry of the cwd itself (a symlink, not followed); etc-link/passwd runs
  // through one and is not looked at.
  CHECK(args == std::vector<std::string>{"x.py", "sub/in.csv", "./sub/./in.csv", cwd + "/x.py", "passwd-link"});
  CHECK(paths == std::vector<std::string>{cwd + "/x.py", cwd + "/sub/in.csv", cwd + "/sub/in.csv", cwd + "/x.py",
                                          cwd + "/passwd-link"});
}
