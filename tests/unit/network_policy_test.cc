// network.mode = "allowlist": the policy keys, the run options that change them, and what the
// plan makes of them (docs/network.md).
#include <doctest/doctest.h>
#include <sched.h>

#include <algorithm>
#include <string>

#include "plan/build.h"
#include "plan/network.h"
#include "policy/emit.h"
#include "policy/load.h"
#include "policy/overrides.h"

using namespace aj;
using namespace aj::policy;

namespace {

Diagnostics problems_of(std::string_view text, std::optional<Loaded>& loaded) {
  Diagnostics diagnostics;
  loaded = load_text(text, "p.toml", "", diagnostics);
  return diagnostics;
}

Policy ok(std::string_view text) {
  std::optional<Loaded> loaded;
  Diagnostics diagnostics = problems_of(text, loaded);
  INFO(text);
  for (const auto& d : diagnostics) INFO(d.format());
  REQUIRE(diagnostics.empty());
  REQUIRE(loaded.has_value());
  return loaded->policy;
}

std::vector<std::string> errors(std::string_view text) {
  std::optional<Loaded> loaded;
  Diagnostics diagnostics = problems_of(text, loaded);
  CHECK_FALSE(loaded.has_value());
  std::vector<std::string> out;
  for (const auto& d : diagnostics) out.push_back(d.format());
  return out;
}

bool any_contains(const std::vector<std::string>& lines, std::string_view part) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(part) != l.npos; });
}

host::Host fake_host() {
  host::Host host;
  host.uid = host.euid = 1000;
  host.gid = host.egid = 1000;
  host.userns = host.unprivileged_userns = true;
  host.seccomp = host.seccomp_notify = true;
  return host;
}

const plan::MountOp* find_op(const plan::Plan& plan, const std::string& target) {
  for (const auto& op : plan.mounts)
    if (op.target == target) return &op;
  return nullptr;
}

bool has_env(const plan::Plan& plan, const std::string& entry) {
  return std::find(plan.env.begin(), plan.env.end(), entry) != plan.env.end();
}

constexpr std::string_view kAllowlist = R"(version = 1
[network]
mode = "allowlist"
allow = ["pypi.org", "*.pythonhosted.org", "api.example.com:443", "203.0.113.0/24:5432", "allowed.test"]
max_connections = 8
max_bytes = "1MiB"
resolve = { "Allowed.Test" = "127.0.0.1" }
)";

}  // namespace

TEST_CASE("network policy: allowlist keys are read, names normalized, caps sized") {
  Policy p = ok(kAllowlist);
  CHECK(p.network.mode == NetworkMode::allowlist);
  CHECK(p.network.allow.size() == 5);
  CHECK(p.network.allow[1] == "*.pythonhosted.org");
  CHECK(p.network.resolve == std::map<std::string, std::string>{{"allowed.test", "127.0.0.1"}});
  CHECK(p.network.max_connections == 8);
  CHECK(p.network.max_bytes == 1ull << 20);
  CHECK(p.namespaces.net);  // the jail keeps a network namespace of its own

  Policy defaults = ok("version = 1\n[network]\nmode = \"allowlist\"\n");
  CHECK(defaults.network.max_connections == 64);
  CHECK_FALSE(defaults.network.max_bytes.has_value());
  Policy unlimited =
      ok("version = 1\n[network]\nmode = \"allowlist\"\nmax_connections = \"unlimited\"\nmax_bytes = \"unlimited\"\n");
  CHECK_FALSE(unlimited.network.max_connections.has_value());
  CHECK_FALSE(unlimited.network.max_bytes.has_value());
}

TEST_CASE("network policy: bad entries, stray keys and zero caps are located errors") {
  auto bad = errors("version = 1\n[network]\nmode = \"allowlist\"\nallow = [\"pypi.org:0\", \"10.0.0.0/33\", \"\"]\n");
  CHECK(bad.size() == 3);
  for (const auto& line : bad) CHECK(line.starts_with("p.toml:4:"));
  CHECK(any_contains(bad, "network.allow"));

  auto resolve = errors("version = 1\n[network]\nmode = \"allowlist\"\nallow = [\"a.test\"]\n"
                        "resolve = { \"b.test\" = \"127.0.0.1\", \"a.test\" = \"not-an-ip\" }\n");
  CHECK(resolve.size() == 2);
  CHECK(any_contains(resolve, "\"b.test\" is not allowed by any network.allow entry"));
  CHECK(any_contains(resolve, "\"not-an-ip\" is not an IPv4 or IPv6 address"));

  auto stray = errors("version = 1\n[network]\nmode = \"loopback\"\nallow = [\"a.test\"]\nmax_bytes = \"1MiB\"\n");
  CHECK(stray.size() == 2);
  CHECK(any_contains(stray, "network.allow: applies only with network.mode = \"allowlist\" (the mode is \"loopback\")"));
  CHECK(any_contains(stray, "network.max_bytes: applies only with network.mode = \"allowlist\""));

  auto zero = errors("version = 1\n[network]\nmode = \"allowlist\"\nmax_connections = 0\nmax_bytes = \"0\"\n");
  CHECK(zero.size() == 2);
  CHECK(any_contains(zero, "network.max_connections: expected an integer of at least 1 or \"unlimited\""));
  CHECK(any_contains(zero, "network.max_bytes"));
}

TEST_CASE("network policy: emitted and read back unchanged") {
  Policy p = ok(kAllowlist);
  std::string text = to_toml(p);
  Policy again = ok(text);
  CHECK(again.network.mode == p.network.mode);
  CHECK(again.network.allow == p.network.allow);
  CHECK(again.network.resolve == p.network.resolve);
  CHECK(again.network.max_connections == p.network.max_connections);
  CHECK(again.network.max_bytes == p.network.max_bytes);
  CHECK(sha256_hex(again) == sha256_hex(p));
}

TEST_CASE("network overrides: --net allowlist and --allow") {
  Diagnostics diagnostics;
  auto loaded = load("default", diagnostics);
  REQUIRE(loaded);
  Policy policy = loaded->policy;
  Overrides o;
  o.net = "allowlist";
  o.allow = {"pypi.org", "files.pythonhosted.org:443"};
  REQUIRE(apply_overrides(policy, o, "/", diagnostics));
  CHECK(policy.network.mode == NetworkMode::allowlist);
  CHECK(policy.namespaces.net);
  CHECK(policy.network.allow == std::vector<std::string>{"pypi.org", "files.pythonhosted.org:443"});

  // Another mode drops the allowlist with its mode.
  Overrides off;
  off.net = "none";
  REQUIRE(apply_overrides(policy, off, "/", diagnostics));
  CHECK(policy.network.allow.empty());

  // --allow without the mode, and a bad entry: each its own --allow line.
  Policy fresh = loaded->policy;
  Overrides wrong;
  wrong.allow = {"pypi.org", "bad..name"};
  Diagnostics problems;
  CHECK_FALSE(apply_overrides(fresh, wrong, "/", problems));
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].format().starts_with("--allow: \"pypi.org\": applies only with network.mode = \"allowlist\""));
  CHECK(problems[1].format().starts_with("--allow: \"bad..name\""));
}

TEST_CASE("network plan: allowlist carries the broker's config, its resolver, the CAs and the proxy") {
  Policy p = ok(std::string(kAllowlist) + "[process]\nenv = { PATH = \"/usr/bin\", https_proxy = \"http://mine:1\" }\n");
  auto plan = plan::build(p, fake_host(), {"pip", "install", "x"}, {});
  REQUIRE(plan);
  REQUIRE(plan->allowlist.has_value());
  CHECK(plan->allowlist->allow == p.network.allow);
  CHECK(plan->allowlist->resolve == p.network.resolve);
  CHECK(plan->allowlist->max_connections == 8);
  CHECK(plan->allowlist->max_bytes == 1ull << 20);
  CHECK((plan->clone_flags & CLONE_NEWNET) != 0);
  CHECK_FALSE(plan->loopback_up);  // the init's network step brings lo up with its routes

  const plan::MountOp* resolv = find_op(*plan, "/etc/resolv.conf");
  REQUIRE(resolv);
  CHECK(resolv->kind == plan::MountKind::file);
  CHECK(resolv->content == plan::kAllowlistResolvConf);
  REQUIRE(find_op(*plan, "/etc/hosts"));
  for (const char* ca : plan::kCaPaths) {
    const plan::MountOp* op = find_op(*plan, ca);
    REQUIRE(op);
    CHECK(op->kind == plan::MountKind::bind);
    CHECK(op->read_only);
    CHECK(op->optional);
  }
  CHECK(has_env(*plan, "HTTP_PROXY=http://127.0.0.1:3128"));
  CHECK(has_env(*plan, "HTTPS_PROXY=http://127.0.0.1:3128"));
  CHECK(has_env(*plan, "http_proxy=http://127.0.0.1:3128"));
  CHECK(has_env(*plan, "https_proxy=http://mine:1"));  // the policy's own wins
  CHECK(std::none_of(plan->env.begin(), plan->env.end(),
                     [](const std::string& e) { return e.starts_with("NO_PROXY=") || e.starts_with("no_proxy="); }));
}

TEST_CASE("network plan: host mode binds the resolver files and CAs; none adds nothing") {
  auto host_plan = plan::build(ok("version = 1\n[network]\nmode = \"host\"\n"), fake_host(), {"true"}, {});
  REQUIRE(host_plan);
  CHECK_FALSE(host_plan->allowlist.has_value());
  CHECK((host_plan->clone_flags & CLONE_NEWNET) == 0);
  const plan::MountOp* resolv = find_op(*host_plan, "/etc/resolv.conf");
  REQUIRE(resolv);
  CHECK(resolv->kind == plan::MountKind::bind);
  CHECK(resolv->optional);
  CHECK(find_op(*host_plan, "/etc/ssl/certs"));
  CHECK(std::none_of(host_plan->env.begin(), host_plan->env.end(),
                     [](const std::string& e) { return e.starts_with("HTTP_PROXY="); }));

  auto none_plan = plan::build(ok("version = 1\n"), fake_host(), {"true"}, {});
  REQUIRE(none_plan);
  CHECK_FALSE(none_plan->allowlist.has_value());
  CHECK_FALSE(find_op(*none_plan, "/etc/resolv.conf"));
  CHECK_FALSE(find_op(*none_plan, "/etc/ssl/certs"));
}

TEST_CASE("network plan: the mounts of allowlist and host keep a workspace's indices on its own mounts") {
  // The regression: the network's mounts were put in front after the workspace was placed, so
  // bind_index named a CA bind and the jail found no idmapped tree for the workspace.
  for (const char* mode : {"allowlist", "host"}) {
    for (const char* ws_mode : {"rw", "overlay"}) {
      const std::string modes = std::string(mode) + " " + ws_mode;
      CAPTURE(modes);
      Policy p = ok(std::string("version = 1\n[network]\nmode = \"") + mode + "\"\n");
      p.workspace = policy::Workspace{.source = "/home/u/proj"};
      p.workspace->mode = std::string_view(ws_mode) == "rw" ? policy::WorkspaceMode::rw : policy::WorkspaceMode::overlay;
      host::Host host = fake_host();
      host.kernel = "6.1.0";
      host.kernel_major = 6;
      host.kernel_minor = 1;
      host.workspace = host::WorkspaceSource{
          .path = "/home/u/proj", .is_dir = true, .uid = 1000, .gid = 1000, .fs_idmappable = true};
      auto plan = plan::build(p, host, {"true"}, {});
      const std::string why = plan ? "" : plan.error().what();
      INFO(why);
      REQUIRE(plan);
      REQUIRE(plan->workspace.has_value());
      const plan::MountOp& bind = plan->mounts.at(plan->workspace->bind_index);
      CHECK(bind.kind == plan::MountKind::bind);
      CHECK(bind.source == "/home/u/proj");
      if (plan->workspace->overlay_index)
        CHECK(plan->mounts.at(*plan->workspace->overlay_index).kind == plan::MountKind::overlay);
      CHECK(find_op(*plan, "/etc/ssl/certs"));
    }
  }
}
