// host: the /proc parsers, and the cgroup probe fed fake mountinfo and fake cgroup directories.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "host/cgroups.h"
#include "host/host.h"
#include "host/procfs.h"

using namespace aj;

namespace {

// This very machine: a hybrid host whose memory cgroup is below /process_api.
constexpr const char* kHybridCgroup =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/fccba753148bc7b49ee38c3a1317377c\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

constexpr const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

bool has(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// A scratch directory that stands in for a cgroup2 mount: mount/SELF with the files we read.
struct FakeCgroup2 {
  std::filesystem::path mount;
  explicit FakeCgroup2(const std::string& self) {
    char tmpl[] = "/tmp/aj-fake-cgroup-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    mount = tmpl;
    dir = mount / self.substr(1);
    std::filesystem::create_directories(dir);
  }
  ~FakeCgroup2() { std::filesystem::remove_all(mount); }
  void put(const std::string& name, const std::string& text) const { std::ofstream(dir / name) << text; }
  std::vector<host::CgroupMount> mounts() const { return {{.v2 = true, .mount_point = mount.string(), .root = "/"}}; }
  std::filesystem::path dir;
};

host::Host host_for_probe() {
  host::Host host;
  host.pid = ::getpid();
  host.euid = ::geteuid();
  host.kernel_major = 6;
  host.kernel_minor = 1;
  return host;
}

}  // namespace

TEST_CASE("parse_proc_cgroup reads v1 and v2 lines, keeps colons in paths, skips junk") {
  auto lines = host::parse_proc_cgroup(kHybridCgroup);
  REQUIRE(lines.size() == 10);
  CHECK(lines[5].hierarchy == 4);
  CHECK(lines[5].controllers == std::vector<std::string>{"memory"});
  CHECK(lines[5].path == "/process_api/fccba753148bc7b49ee38c3a1317377c");
  CHECK(lines[0].controllers == std::vector<std::string>{"name=systemd"});
  CHECK(lines[9].hierarchy == 0);
  CHECK(lines[9].controllers.empty());
  CHECK(lines[9].path == "/");

  auto odd = host::parse_proc_cgroup("2:cpu,cpuacct:/a:b\n0::/user.slice/x.scope\ngarbage\nx::/y\n3:pids:relative\n");
  REQUIRE(odd.size() == 2);
  CHECK(odd[0].controllers == std::vector<std::string>{"cpu", "cpuacct"});
  CHECK(odd[0].path == "/a:b");
  CHECK(odd[1].path == "/user.slice/x.scope");
}

TEST_CASE("parse_cgroup_mounts finds v1 controllers and the v2 mount, decoding escapes") {
  auto mounts = host::parse_cgroup_mounts(kHybridMountinfo);
  REQUIRE(mounts.size() == 5);  // the tmpfs is not a cgroup
  CHECK_FALSE(mounts[0].v2);
  CHECK(mounts[0].mount_point == "/sys/fs/cgroup/cpu");
  CHECK(has(mounts[0].options, "cpu"));
  CHECK(mounts[4].v2);
  CHECK(mounts[4].mount_point == "/sys/fs/cgroup/unified");

  auto odd = host::parse_cgroup_mounts(
      "50 1 0:40 /sub /mnt/with\\040space rw shared:3 master:1 - cgroup2 none rw,nsdelegate\n"
      "51 1 0:41 / /x rw - cgroup cgroup rw,cpu,cpuacct\n");
  REQUIRE(odd.size() == 2);
  CHECK(odd[0].mount_point == "/mnt/with space");
  CHECK(odd[0].root == "/sub");
  CHECK(has(odd[1].options, "cpuacct"));
}

TEST_CASE("cgroup_dir maps our cgroup under a mount, refusing paths outside it") {
  CHECK(host::cgroup_dir("/sys/fs/cgroup", "/", "/") == "/sys/fs/cgroup");
  CHECK(host::cgroup_dir("/sys/fs/cgroup", "/", "/a/b") == "/sys/fs/cgroup/a/b");
  CHECK(host::cgroup_dir("/mnt", "/a", "/a/b") == "/mnt/b");
  CHECK(host::cgroup_dir("/mnt", "/a", "/a") == "/mnt");
  CHECK_FALSE(host::cgroup_dir("/mnt", "/a", "/ab"));
  CHECK_FALSE(host::cgroup_dir("/sys/fs/cgroup", "/", "/../../outside"));
}

TEST_CASE("kernel version and swap size") {
  CHECK(host::parse_kernel_version("6.18.44-fc-v595") == std::pair{6, 18});
  CHECK(host::parse_kernel_version("5.4.0-150-generic") == std::pair{5, 4});
  CHECK(host::parse_kernel_version("garbage") == std::pair{0, 0});
  CHECK(host::parse_swap_total("MemTotal: 10 kB\nSwapTotal:     2048 kB\nSwapFree: 1 kB\n") == 2048u * 1024);
  CHECK(host::parse_swap_total("SwapTotal:       0 kB\n") == 0);
  host::Host h;
  h.kernel_major = 5;
  h.kernel_minor = 14;
  CHECK(h.kernel_at_least(5, 7));
  CHECK(h.kernel_at_least(5, 14));
  CHECK_FALSE(h.kernel_at_least(5, 19));
  CHECK_FALSE(h.kernel_at_least(6, 0));
}

TEST_CASE("probe: a delegated v2 cgroup where we are the only process") {
  FakeCgroup2 fake("/user.slice/agent.scope");
  fake.put("cgroup.controllers", "cpuset cpu io memory pids\n");
  fake.put("cgroup.subtree_control", "\n");
  fake.put("cgroup.procs", std::to_string(::getpid()) + "\n");
  fake.put("cgroup.type", "domain\n");
  fake.put("memory.swap.max", "max\n");
  host::Host host = host_for_probe();
  host::probe_cgroups(host, fake.mounts(), host::parse_proc_cgroup("0::/user.slice/agent.scope\n"));
  const auto& v2 = host.cgroup_v2;
  CHECK(v2.mounted);
  CHECK(v2.self == "/user.slice/agent.scope");
  CHECK(v2.self_dir() == fake.dir.string());
  CHECK_FALSE(v2.self_is_root);
  CHECK(v2.writable);
  CHECK(v2.delegated == std::vector<std::string>{"memory", "pids", "cpu"});
  CHECK(v2.must_move_self);
  CHECK(v2.swap_accounting);
  CHECK(v2.problem.empty());
  CHECK(host.clone_into_cgroup);
  CHECK(host.cgroup_kill);
  CHECK(host.memory_peak);  // the fake kernel is 6.1
}

TEST_CASE("probe: other processes in our v2 cgroup block every controller, with the fix") {
  FakeCgroup2 fake("/user.slice/session-2.scope");
  fake.put("cgroup.controllers", "memory pids\n");
  fake.put("cgroup.subtree_control", "");
  fake.put("cgroup.procs", std::to_string(::getpid()) + "\n1\n2\n");
  fake.put("cgroup.type", "domain\n");
  host::Host host = host_for_probe();
  host::probe_cgroups(host, fake.mounts(), host::parse_proc_cgroup("0::/user.slice/session-2.scope\n"));
  const auto& v2 = host.cgroup_v2;
  CHECK(v2.writable);
  CHECK(v2.delegated.empty());
  CHECK_FALSE(v2.must_move_self);
  CHECK(v2.problem.find("2 other process(es)") != std::string::npos);
  CHECK(v2.problem.find("cpu is not enabled for our cgroup") != std::string::npos);
  CHECK(v2.problem.find("Delegate=yes") != std::string::npos);
}

TEST_CASE("probe: controllers already enabled count as delegated; a missing mount is said") {
  FakeCgroup2 fake("/");
  fake.put("cgroup.controllers", "memory pids cpu\n");
  fake.put("cgroup.subtree_control", "memory pids\n");
  fake.put("cgroup.procs", "1\n" + std::to_string(::getpid()) + "\n");
  host::Host host = host_for_probe();
  host.kernel_minor = 19;
  host.kernel_major = 5;
  host::probe_cgroups(host, fake.mounts(), host::parse_proc_cgroup("0::/\n"));
  CHECK(host.cgroup_v2.self_is_root);  // no cgroup.type: the real root, exempt from the rule
  CHECK_FALSE(host.cgroup_v2.must_move_self);
  CHECK(host.cgroup_v2.delegated == std::vector<std::string>{"memory", "pids", "cpu"});
  CHECK(host.memory_peak);

  host::Host none = host_for_probe();
  host::probe_cgroups(none, {}, host::parse_proc_cgroup("0::/\n"));
  CHECK_FALSE(none.cgroup_v2.mounted);
  CHECK(none.cgroup_v2.problem == "no cgroup2 filesystem is mounted");
  CHECK(none.cgroup_v1.empty());
}

TEST_CASE("probe: hybrid host reports controllers held by cgroup v1") {
  FakeCgroup2 fake("/");
  fake.put("cgroup.controllers", "");
  fake.put("cgroup.subtree_control", "");
  auto mounts = fake.mounts();
  for (const auto& m : host::parse_cgroup_mounts(kHybridMountinfo))
    if (!m.v2) mounts.push_back(m);
  host::Host host = host_for_probe();
  host::probe_cgroups(host, mounts, host::parse_proc_cgroup(kHybridCgroup));
  CHECK(host.cgroup_v2.delegated.empty());
  CHECK(host.cgroup_v2.problem.find("memory, pids, cpu are attached to cgroup v1") != std::string::npos);
  CHECK(host.cgroup_v2.problem.find("unified_cgroup_hierarchy") != std::string::npos);
  REQUIRE(host.cgroup_v1.count("memory"));
  CHECK(host.cgroup_v1["memory"].self == "/process_api/fccba753148bc7b49ee38c3a1317377c");
  CHECK(host.cgroup_v1["memory"].self_dir() == "/sys/fs/cgroup/memory/process_api/fccba753148bc7b49ee38c3a1317377c");
  CHECK(host.cgroup_v1["pids"].self_dir() == "/sys/fs/cgroup/pids");
  CHECK(host.cgroup_v1.count("cpuacct"));
}

TEST_CASE("probe() on this machine is consistent with /proc/self") {
  host::Host host = host::probe();
  CHECK(host.pid == ::getpid());
  CHECK(host.euid == ::geteuid());
  CHECK(host.kernel_major > 0);
  CHECK(host.seccomp);
  if (host.cgroup_v2.mounted) CHECK_FALSE(host.cgroup_v2.mount.empty());
  for (const auto& [name, c] : host.cgroup_v1) {
    CHECK_FALSE(c.mount.empty());
    CHECK((c.writable || !c.problem.empty()));
  }
}
