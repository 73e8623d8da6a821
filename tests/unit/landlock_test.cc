// The Landlock ruleset derived from the plan's mounts (plan/landlock.h), from a fake host.
#include "plan/landlock.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "plan/build.h"
#include "sys/landlock.h"

using namespace aj;
namespace ll = sys::landlock;

namespace {

host::Host fake_host(int abi, int cap = -1) {
  host::Host host;
  host.uid = host.euid = 1000;
  host.userns = host.unprivileged_userns = true;
  host.seccomp = host.seccomp_notify = true;
  host.landlock_abi = abi;
  host.landlock_abi_cap = cap;
  return host;
}

policy::Policy with_mounts() {
  policy::Policy p;
  auto& m = p.filesystem.mounts;
  m.push_back({.type = policy::MountType::bind, .source = "/usr", .target = "/usr"});
  m.push_back({.type = policy::MountType::symlink, .source = "usr/bin", .target = "/bin"});
  m.push_back({.type = policy::MountType::bind, .source = "/srv/ws", .target = "/ws", .read_only = false});
  m.push_back({.type = policy::MountType::bind, .source = "/srv/out", .target = "/out", .read_only = false,
               .exec = false});
  m.push_back({.type = policy::MountType::bind, .source = "/opt/x", .target = "/opt/x", .optional = true});
  m.push_back({.type = policy::MountType::tmpfs, .target = "/tmp", .read_only = false, .exec = false});
  m.push_back({.type = policy::MountType::file, .target = "/etc/motd", .content = "hi"});
  m.push_back({.type = policy::MountType::proc, .target = "/proc", .read_only = false});
  m.push_back({.type = policy::MountType::dev, .target = "/dev", .read_only = false});
  return p;
}

plan::Plan build(const policy::Policy& policy, const host::Host& host) {
  auto plan = plan::build(policy, host, {"sh"}, {});
  REQUIRE_MESSAGE(plan, (plan ? "" : plan.error().what()));
  return *plan;
}

const plan::LandlockRule* rule(const plan::Plan& plan, const std::string& path) {
  const auto& rules = plan.landlock.rules;
  auto it = std::find_if(rules.begin(), rules.end(), [&](const auto& r) { return r.path == path; });
  return it == rules.end() ? nullptr : &*it;
}

bool has(uint64_t rights, uint64_t wanted) { return (rights & wanted) == wanted; }

constexpr uint64_t kRead = ll::kReadFile | ll::kReadDir;
constexpr uint64_t kWrite = ll::kWriteFile | ll::kRemoveDir | ll::kRemoveFile | ll::kMakeDir | ll::kMakeReg |
                            ll::kMakeSock | ll::kMakeFifo | ll::kMakeSym | ll::kRefer | ll::kTruncate;

size_t count_prefix(const std::vector<std::string>& lines, const std::string& prefix) {
  return std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.starts_with(prefix); });
}

}  // namespace

TEST_CASE("landlock: read-only mounts read and execute, nothing else") {
  auto plan = build(with_mounts(), fake_host(6));
  REQUIRE(plan.landlock.enabled);
  CHECK(plan.landlock.abi == 6);
  CHECK(plan.landlock.handled_fs == ll::fs_rights_of_abi(6));
  const auto* usr = rule(plan, "/usr");
  REQUIRE(usr);
  CHECK(usr->allowed == (kRead | ll::kExecute));
  const auto* motd = rule(plan, "/etc/motd");
  REQUIRE(motd);
  CHECK(motd->allowed == (kRead | ll::kExecute));
}

TEST_CASE("landlock: writable mounts write, execute only where the mount allows it") {
  auto plan = build(with_mounts(), fake_host(6));
  const auto* ws = rule(plan, "/ws");
  REQUIRE(ws);
  CHECK(ws->allowed == (kRead | kWrite | ll::kExecute));
  const auto* out = rule(plan, "/out");
  REQUIRE(out);
  CHECK(out->allowed == (kRead | kWrite));
  const auto* tmp = rule(plan, "/tmp");
  REQUIRE(tmp);
  CHECK(tmp->allowed == (kRead | kWrite));
}

TEST_CASE("landlock: no rule anywhere lets the jail create a device node") {
  for (int abi = 1; abi <= 7; ++abi) {
    auto plan = build(with_mounts(), fake_host(abi));
    CHECK(has(plan.landlock.handled_fs, ll::kMakeChar | ll::kMakeBlock));
    for (const auto& r : plan.landlock.rules) {
      CHECK_MESSAGE((r.allowed & (ll::kMakeChar | ll::kMakeBlock)) == 0, r.path);
      // Every right granted is one the ruleset handles: the kernel refuses anything else.
      CHECK_MESSAGE((r.allowed & ~plan.landlock.handled_fs) == 0, r.path);
    }
  }
}

TEST_CASE("landlock: nothing outside the mounts, the root only listed") {
  auto plan = build(with_mounts(), fake_host(6));
  const auto* root = rule(plan, "/");
  REQUIRE(root);
  CHECK(root->allowed == ll::kReadDir);
  // Symlinks are not trees (their target has its own rule); /bin is one here.
  CHECK(rule(plan, "/bin") == nullptr);
  // Each rule is a mount point of the plan (or the root), nothing invented.
  for (const auto& r : plan.landlock.rules) {
    bool is_mount = r.path == "/" || std::any_of(plan.mounts.begin(), plan.mounts.end(),
                                                 [&](const plan::MountOp& op) { return op.target == r.path; });
    CHECK_MESSAGE(is_mount, r.path);
  }
  // Masks over /proc are not rules: a rule could only add rights below /proc.
  CHECK(rule(plan, "/proc/kcore") == nullptr);
}

TEST_CASE("landlock: /dev is read-only once populated, its devices get their ioctls") {
  auto plan = build(with_mounts(), fake_host(6));
  const auto* dev = rule(plan, "/dev");
  REQUIRE(dev);
  CHECK(dev->allowed == kRead);  // the plan remounts the /dev tmpfs read-only after filling it
  const auto* null = rule(plan, "/dev/null");
  REQUIRE(null);
  CHECK(has(null->allowed, ll::kReadFile | ll::kWriteFile | ll::kIoctlDev));
  const auto* pts = rule(plan, "/dev/pts");
  REQUIRE(pts);
  CHECK(has(pts->allowed, ll::kIoctlDev));
  // Device ioctls only where the mount has devices.
  CHECK_FALSE(has(rule(plan, "/ws")->allowed, ll::kIoctlDev));
  CHECK_FALSE(has(rule(plan, "/dev/shm")->allowed, ll::kIoctlDev));
}

TEST_CASE("landlock: an optional bind's rule may find nothing") {
  auto plan = build(with_mounts(), fake_host(6));
  REQUIRE(rule(plan, "/opt/x"));
  CHECK(rule(plan, "/opt/x")->optional);
  CHECK_FALSE(rule(plan, "/usr")->optional);
}

TEST_CASE("landlock: a later mount at the same point replaces the earlier one's rights") {
  auto p = with_mounts();
  p.filesystem.mounts.push_back({.type = policy::MountType::tmpfs, .target = "/usr", .read_only = false});
  auto plan = build(p, fake_host(6));
  CHECK(std::count_if(plan.landlock.rules.begin(), plan.landlock.rules.end(),
                      [](const auto& r) { return r.path == "/usr"; }) == 1);
  CHECK(has(rule(plan, "/usr")->allowed, ll::kWriteFile));
}

TEST_CASE("landlock: ABI 6 scopes abstract unix sockets and signals, older ABIs cannot") {
  auto six = build(with_mounts(), fake_host(7));
  CHECK(six.landlock.abi == 6);  // agentjail's newest
  CHECK(six.landlock.abi_kernel == 7);
  CHECK(six.landlock.scoped == (ll::kScopeAbstractUnixSocket | ll::kScopeSignal));
  CHECK(six.landlock.not_enforced.empty());
  CHECK(count_prefix(six.warnings, "landlock:") == 0);

  auto five = build(with_mounts(), fake_host(5));
  CHECK(five.landlock.scoped == 0);
  CHECK(five.landlock.not_enforced == std::vector<std::string>{"abstract_unix_socket", "signal"});
}

TEST_CASE("landlock: one warning per right the ABI lacks, named as not_enforced names it") {
  auto plan = build(with_mounts(), fake_host(2));
  CHECK(plan.landlock.abi == 2);
  CHECK(plan.landlock.not_enforced ==
        std::vector<std::string>{"truncate", "ioctl_dev", "abstract_unix_socket", "signal"});
  CHECK(count_prefix(plan.warnings, "landlock:") == 4);
  for (const auto& name : plan.landlock.not_enforced)
    CHECK_MESSAGE(count_prefix(plan.warnings, "landlock: " + name + " not enforced") == 1, name);
  // ABI 2's rules carry no right of a later ABI.
  CHECK_FALSE(has(rule(plan, "/ws")->allowed, ll::kTruncate));
  CHECK(has(rule(plan, "/ws")->allowed, ll::kRefer));
}

TEST_CASE("landlock: --landlock-max-abi caps the ABI and says so") {
  auto plan = build(with_mounts(), fake_host(7, 3));
  CHECK(plan.landlock.abi == 3);
  CHECK(plan.landlock.abi_kernel == 7);
  CHECK(plan.landlock.not_enforced == std::vector<std::string>{"ioctl_dev", "abstract_unix_socket", "signal"});
  CHECK(std::any_of(plan.warnings.begin(), plan.warnings.end(),
                    [](const std::string& w) { return w.find("--landlock-max-abi") != std::string::npos; }));
  // A cap above what the kernel has changes nothing.
  CHECK(build(with_mounts(), fake_host(3, 5)).landlock.abi == 3);
}

TEST_CASE("landlock: best-effort without Landlock runs with one warning, required refuses") {
  auto none = build(with_mounts(), fake_host(0));
  CHECK(none.landlock.enabled);
  CHECK(none.landlock.abi == 0);
  CHECK(none.landlock.rules.empty());
  CHECK(none.landlock.not_enforced == plan::landlock_right_names());
  CHECK(count_prefix(none.warnings, "landlock:") == 1);

  auto p = with_mounts();
  p.landlock = policy::LandlockMode::required;
  auto refused = plan::build(p, fake_host(0), {"sh"}, {});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().what().find("landlock = \"required\"") != std::string::npos);
  auto capped = plan::build(p, fake_host(6, 0), {"sh"}, {});
  REQUIRE_FALSE(capped);
  CHECK(capped.error().what().find("--landlock-max-abi 0") != std::string::npos);
  // Required is met by any ABI; the rights it lacks are warnings as with best-effort.
  CHECK(plan::build(p, fake_host(1), {"sh"}, {}));
}

TEST_CASE("landlock: off means no ruleset and no warning") {
  auto p = with_mounts();
  p.landlock = policy::LandlockMode::off;
  auto plan = build(p, fake_host(0));
  CHECK_FALSE(plan.landlock.enabled);
  CHECK(plan.landlock.abi == 0);
  CHECK(plan.landlock.rules.empty());
  CHECK(count_prefix(plan.warnings, "landlock:") == 0);
}

TEST_CASE("landlock: ABI 1 handles no refer, so none is granted and the warning says renames fail") {
  auto plan = build(with_mounts(), fake_host(1));
  CHECK_FALSE(has(plan.landlock.handled_fs, ll::kRefer));
  CHECK(std::any_of(plan.warnings.begin(), plan.warnings.end(),
                    [](const std::string& w) { return w.starts_with("landlock: refer") && w.find("EXDEV") != w.npos; }));
}

TEST_CASE("landlock: the rights of each ABI are the kernel's") {
  CHECK(ll::fs_rights_of_abi(0) == 0);
  CHECK(ll::fs_rights_of_abi(1) == 0x1fff);
  CHECK(ll::fs_rights_of_abi(2) == 0x3fff);
  CHECK(ll::fs_rights_of_abi(3) == 0x7fff);
  CHECK(ll::fs_rights_of_abi(4) == 0x7fff);
  CHECK(ll::fs_rights_of_abi(5) == 0xffff);
  CHECK(ll::fs_rights_of_abi(6) == 0xffff);
  CHECK(ll::scopes_of_abi(5) == 0);
  CHECK(ll::scopes_of_abi(6) == 0x3);
}
