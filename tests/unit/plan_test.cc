#include "plan/build.h"

#include <doctest/doctest.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>

#include "plan/identity.h"
#include "plan/mounts.h"

using namespace aj;

namespace {

constexpr uint32_t kLeased = 1879048200;
constexpr host::IdRange kRootRange{1879048192, 65536};

host::Host fake_host(uid_t euid) {
  host::Host host;
  host.uid = host.euid = euid;
  host.gid = host.egid = euid == 0 ? 0 : 1000;
  host.userns = host.unprivileged_userns = true;
  host.seccomp = host.seccomp_notify = true;
  if (euid == 0) host.leased_id = kLeased;  // what the pipeline leases before planning a root run
  return host;
}

policy::Policy python_like() {
  policy::Policy p;
  p.process.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}};
  p.process.pass_env = {"TERM", "MISSING"};
  p.filesystem.mounts.push_back({.type = policy::MountType::bind, .source = "/usr", .target = "/usr"});
  p.filesystem.mounts.push_back({.type = policy::MountType::proc, .target = "/proc", .read_only = false});
  p.filesystem.mounts.push_back({.type = policy::MountType::dev, .target = "/dev", .read_only = false});
  return p;
}

const plan::MountOp* find_op(const plan::Plan& plan, const std::string& target) {
  for (const auto& op : plan.mounts)
    if (op.target == target) return &op;
  return nullptr;
}

}  // namespace

TEST_CASE("root caller maps the jail user to the host uid and gid leased for this jail") {
  auto policy = python_like();
  CHECK(plan::id_lease_range(policy, fake_host(0), kRootRange));
  auto plan = plan::build(policy, fake_host(0), {"python3"}, {});
  REQUIRE(plan);
  CHECK(plan->uid_map.inside == 65534);
  CHECK(plan->uid_map.outside == kLeased);
  CHECK(plan->uid_map.count == 1);
  CHECK(plan->gid_map.inside == 65534);
  CHECK(plan->gid_map.outside == kLeased);
  CHECK(plan->host_ids == plan::HostIds::leased);
  CHECK(plan->clear_groups);
  CHECK_FALSE(plan->deny_setgroups);
  for (const auto& warning : plan->warnings) CHECK(warning.find("host ids") == std::string::npos);
}

TEST_CASE("root caller without a lease is refused, never mapped to nobody") {
  auto host = fake_host(0);
  host.leased_id.reset();
  auto plan = plan::build(python_like(), host, {"x"}, {});
  REQUIRE_FALSE(plan);
  CHECK(plan.error().message.find("no host uid was leased") != std::string::npos);
}

TEST_CASE("ordinary caller maps itself, gives up setgroups and says it shares its uid") {
  auto host = fake_host(1000);
  CHECK_FALSE(plan::id_lease_range(python_like(), host, kRootRange));
  auto plan = plan::build(python_like(), host, {"python3"}, {});
  REQUIRE(plan);
  CHECK(plan->uid_map.outside == 1000);
  CHECK(plan->gid_map.outside == 1000);
  CHECK(plan->host_ids == plan::HostIds::caller);
  CHECK(plan->deny_setgroups);
  CHECK_FALSE(plan->clear_groups);
  auto shares = [](const plan::Plan& p, const char* why) {
    return std::count_if(p.warnings.begin(), p.warnings.end(), [&](const std::string& w) {
             return w.starts_with("host ids: the jail runs as the caller's own uid 1000") &&
                    w.find(why) != std::string::npos;
           }) == 1;
  };
  CHECK(shares(*plan, "no subordinate ids"));
  host.subuids = host.subgids = {{100000, 65536}};
  CHECK_FALSE(plan::id_lease_range(python_like(), host, kRootRange));
  CHECK(shares(*plan::build(python_like(), host, {"x"}, {}), "uidmap package"));
  // A lease outside the caller's subordinate ids changes nothing.
  host.newidmap_tools = true;
  host.leased_id = kLeased;
  CHECK(plan::build(python_like(), host, {"x"}, {})->uid_map.outside == 1000);
}

TEST_CASE("ordinary caller with subordinate ids and newuidmap: a leased subordinate uid and gid") {
  auto host = fake_host(1000);
  host.subuids = {{100000, 65536}, {500000, 10}};
  host.subgids = {{200000, 1000}};
  host.newidmap_tools = true;
  auto range = plan::id_lease_range(python_like(), host, kRootRange);
  REQUIRE(range);
  CHECK(range->first == 100000);
  CHECK(range->count == 1000);  // as long as the shorter of the two: uid and gid go together
  host.leased_id = 100007;
  auto plan = plan::build(python_like(), host, {"x"}, {});
  REQUIRE(plan);
  CHECK(plan->uid_map.outside == 100007);
  CHECK(plan->gid_map.outside == 200007);
  CHECK(plan->uid_map.inside == 65534);
  CHECK(plan->host_ids == plan::HostIds::subordinate);
  CHECK(plan->id_maps_by_helper);
  CHECK(plan->clear_groups);
  CHECK_FALSE(plan->deny_setgroups);
  for (const auto& warning : plan->warnings) CHECK_FALSE(warning.starts_with("host ids"));
}

TEST_CASE("ordinary caller with a read-write bind keeps its own uid, and says why") {
  auto host = fake_host(1000);
  host.subuids = host.subgids = {{100000, 65536}};
  host.newidmap_tools = true;
  auto policy = python_like();
  policy.filesystem.mounts.push_back({.type = policy::MountType::bind, .source = "/srv/w", .target = "/w",
                                      .read_only = false});
  CHECK_FALSE(plan::id_lease_range(policy, host, kRootRange));
  auto plan = plan::build(policy, host, {"x"}, {});
  REQUIRE(plan);
  CHECK(plan->uid_map.outside == 1000);
  CHECK_FALSE(plan->id_maps_by_helper);
  CHECK(std::any_of(plan->warnings.begin(), plan->warnings.end(), [](const std::string& w) {
    return w.starts_with("host ids:") && w.find("read-write bind") != std::string::npos;
  }));
}

TEST_CASE("host_user decides the host uid for root callers, no lease needed") {
  auto policy = python_like();
  policy.process.host_user = 4242;
  policy.process.host_group = 4343;
  auto host = fake_host(0);
  CHECK_FALSE(plan::id_lease_range(policy, host, kRootRange));
  host.leased_id.reset();
  auto plan = plan::build(policy, host, {"x"}, {});
  REQUIRE(plan);
  CHECK(plan->uid_map.outside == 4242);
  CHECK(plan->gid_map.outside == 4343);
  CHECK(plan->host_ids == plan::HostIds::policy);
  for (const auto& warning : plan->warnings) CHECK_FALSE((warning.starts_with("host ids") || warning.starts_with("process.host_user")));
}

TEST_CASE("host_user and host_group each win alone; the other is the leased id") {
  auto policy = python_like();
  policy.process.host_user = 4242;
  CHECK(plan::id_lease_range(policy, fake_host(0), kRootRange));
  auto plan = plan::build(policy, fake_host(0), {"x"}, {});
  REQUIRE(plan);
  CHECK(plan->uid_map.outside == 4242);
  CHECK(plan->gid_map.outside == kLeased);
  CHECK(plan->host_ids == plan::HostIds::policy);
  // A shared group for files, a uid of the jail's own for signals and kernel budgets.
  policy.process.host_user.reset();
  policy.process.host_group = 777;
  plan = plan::build(policy, fake_host(0), {"x"}, {});
  REQUIRE(plan);
  CHECK(plan->uid_map.outside == kLeased);
  CHECK(plan->gid_map.outside == 777);
  CHECK(plan->host_ids == plan::HostIds::leased);
}

TEST_CASE("host_user = 65534 is honoured with a warning: it is the host's nobody") {
  auto policy = python_like();
  policy.process.host_user = 65534;
  auto plan = plan::build(policy, fake_host(0), {"x"}, {});
  REQUIRE(plan);
  CHECK(plan->uid_map.outside == 65534);
  CHECK(std::any_of(plan->warnings.begin(), plan->warnings.end(),
                    [](const std::string& w) { return w.starts_with("process.host_user: 65534 is the host's nobody"); }));
}

TEST_CASE("environment is the policy's plus pass_env names that are set") {
  auto plan = plan::build(python_like(), fake_host(1000), {"x"}, {{"TERM", "xterm"}, {"SECRET", "s"}});
  REQUIRE(plan);
  CHECK(plan->env == std::vector<std::string>{"HOME=/tmp", "PATH=/usr/bin:/bin", "TERM=xterm"});
  CHECK(plan->path_env == "/usr/bin:/bin");
}

TEST_CASE("namespaces follow the policy, user/mount/pid always") {
  auto policy = python_like();
  policy.namespaces.net = false;
  policy.namespaces.uts = false;
  policy.network.mode = policy::NetworkMode::host;
  auto plan = plan::build(policy, fake_host(1000), {"x"}, {});
  REQUIRE(plan);
  CHECK((plan->clone_flags & CLONE_NEWUSER));
  CHECK((plan->clone_flags & CLONE_NEWNS));
  CHECK((plan->clone_flags & CLONE_NEWPID));
  CHECK_FALSE((plan->clone_flags & CLONE_NEWNET));
  CHECK_FALSE((plan->clone_flags & CLONE_NEWUTS));
  CHECK(plan->hostname.empty());
}

TEST_CASE("a namespace turned off is a warning, never silent") {
  auto policy = python_like();
  auto plan = plan::build(policy, fake_host(1000), {"x"}, {});
  REQUIRE(plan);
  auto mentions = [](const plan::Plan& p, const std::string& key) {
    return std::any_of(p.warnings.begin(), p.warnings.end(), [&](const std::string& w) { return w.starts_with(key); });
  };
  CHECK_FALSE(mentions(*plan, "namespaces."));
  policy.namespaces.ipc = false;
  policy.namespaces.uts = false;
  policy.namespaces.cgroup = false;
  plan = plan::build(policy, fake_host(1000), {"x"}, {});
  REQUIRE(plan);
  CHECK_FALSE((plan->clone_flags & (CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)));
  CHECK(mentions(*plan, "namespaces.ipc = false"));
  CHECK(mentions(*plan, "namespaces.uts = false"));
  CHECK(mentions(*plan, "namespaces.cgroup = false"));
}

TEST_CASE("proc gets masks and read-only parts, dev becomes the minimal tree") {
  auto plan = plan::build(python_like(), fake_host(1000), {"x"}, {});
  REQUIRE(plan);
  const auto* kcore = find_op(*plan, "/proc/kcore");
  REQUIRE(kcore);
  CHECK(kcore->kind == plan::MountKind::mask);
  const auto* sys = find_op(*plan, "/proc/sys");
  REQUIRE(sys);
  CHECK(sys->kind == plan::MountKind::read_only);
  const auto* null = find_op(*plan, "/dev/null");
  REQUIRE(null);
  CHECK(null->kind == plan::MountKind::bind);
  CHECK_FALSE(null->nodev);
  const auto* pts = find_op(*plan, "/dev/pts");
  REQUIRE(pts);
  CHECK(pts->kind == plan::MountKind::devpts);
  // Everything but the device binds and devpts is nodev.
  for (const auto& op : plan->mounts)
    if (op.kind != plan::MountKind::devpts && op.source.rfind("/dev/", 0) != 0) CHECK(op.nodev);
  // /dev itself is made read-only after it is populated.
  CHECK(plan->mounts.back().kind == plan::MountKind::read_only);
  CHECK(plan->mounts.back().target == "/dev");
}

TEST_CASE("mount order is the policy's") {
  auto plan = plan::build(python_like(), fake_host(1000), {"x"}, {});
  REQUIRE(plan);
  CHECK(plan->mounts.front().target == "/usr");
  auto proc = std::find_if(plan->mounts.begin(), plan->mounts.end(), [](auto& op) { return op.target == "/proc"; });
  auto dev = std::find_if(plan->mounts.begin(), plan->mounts.end(), [](auto& op) { return op.target == "/dev"; });
  CHECK(proc < dev);
}

TEST_CASE("rlimits come from the policy; unlimited leaves the caller's") {
  auto policy = python_like();
  policy.limits.open_files = 100;
  policy.limits.stack_bytes = std::nullopt;
  auto plan = plan::build(policy, fake_host(1000), {"x"}, {});
  REQUIRE(plan);
  auto has = [&](int resource) {
    return std::any_of(plan->rlimits.begin(), plan->rlimits.end(), [&](auto& r) { return r.resource == resource; });
  };
  CHECK(has(RLIMIT_NOFILE));
  CHECK(has(RLIMIT_CORE));
  CHECK(has(RLIMIT_CPU));
  CHECK(has(RLIMIT_SIGPENDING));  // always: per-user budgets shared with agentjail's caller
  CHECK(has(RLIMIT_MSGQUEUE));
  CHECK_FALSE(has(RLIMIT_STACK));
}

TEST_CASE("kept capabilities are resolved by name") {
  auto policy = python_like();
  policy.capabilities.keep = {"CHOWN", "NET_BIND_SERVICE"};
  auto plan = plan::build(policy, fake_host(1000), {"x"}, {});
  REQUIRE(plan);
  CHECK(plan->keep_caps == std::vector<int>{0, 10});
}

TEST_CASE("no user notification on the host is a warning, not silence") {
  auto host = fake_host(1000);
  host.seccomp_notify = false;
  auto plan = plan::build(python_like(), host, {"x"}, {});
  REQUIRE(plan);
  CHECK_FALSE(plan->seccomp.notify);
  CHECK(std::any_of(plan->warnings.begin(), plan->warnings.end(),
                    [](auto& w) { return w.find("notif") != std::string::npos; }));
}

TEST_CASE("an empty command is refused") { CHECK_FALSE(plan::build(python_like(), fake_host(0), {}, {})); }

TEST_CASE("join_path") {
  CHECK(plan::join_path("/proc", "sys") == "/proc/sys");
  CHECK(plan::join_path("/", "x") == "/x");
}

TEST_CASE("binds of the host's /proc, /sys and /dev, or over the jail's, are refused without the opt-in") {
  auto bind = [](std::string source, std::string target, bool allowed = false) {
    plan::MountOp op;
    op.kind = plan::MountKind::bind;
    op.source = std::move(source);
    op.target = std::move(target);
    op.host_kernel_fs = allowed;
    return op;
  };
  std::vector<std::string> warnings;
  for (const auto& [source, target] : std::vector<std::pair<std::string, std::string>>{
           {"/proc", "/hostproc"}, {"/sys/fs/cgroup", "/cg"}, {"/dev", "/d"}, {"/usr/../proc/1", "/x"},
           {"//proc/", "/x"}, {"/tmp", "/proc"}, {"/tmp", "/dev/shm"}, {"/tmp", "/sys"}}) {
    CAPTURE(source);
    CAPTURE(target);
    CHECK_FALSE(plan::check_host_kernel_binds({bind(source, target)}, warnings));
  }
  CHECK(warnings.empty());
  for (const auto& source : {"/procfs", "/devices", "/system", "/usr/proc"})
    CHECK(plan::check_host_kernel_binds({bind(source, "/x")}, warnings));
  CHECK(warnings.empty());
  CHECK(plan::check_host_kernel_binds({bind("/sys", "/hostsys", true)}, warnings));
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("unsafe_host_kernel_fs") != std::string::npos);
}
