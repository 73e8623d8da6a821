// cgroup: plan::decide_cgroup() for every host shape, the cgroupfs parsers and names; as root, a real
// JailCgroup below our own cgroup (skipped otherwise).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cgroup/cgroup.h"
#include "cgroup/parse.h"
#include "host/host.h"
#include "plan/build.h"
#include "skip.h"

using namespace aj;

namespace {

Limits all_limits() {
  Limits limits;
  limits.memory_bytes = 256ull << 20;
  limits.pids = 64;
  limits.cpus = 1.5;
  limits.cpu_time_ms = 10'000;
  return limits;
}

host::Host base_host() {
  host::Host h;
  h.kernel = "6.1.0-test";
  h.kernel_major = 6;
  h.kernel_minor = 1;
  h.clone_into_cgroup = h.cgroup_kill = h.memory_peak = true;
  return h;
}

host::Host v2_delegated() {
  host::Host h = base_host();
  auto& v2 = h.cgroup_v2;
  v2.mounted = v2.writable = v2.swap_accounting = true;
  v2.mount = "/sys/fs/cgroup";
  v2.self = "/user.slice/agent.scope";
  v2.available = v2.delegated = {"memory", "pids", "cpu"};
  return h;
}

host::Host v2_without_controllers() {
  host::Host h = v2_delegated();
  h.cgroup_v2.delegated.clear();
  h.cgroup_v2.problem = "our cgroup /user.slice/agent.scope also holds 3 other process(es); fix: systemd-run";
  return h;
}

void add_v1(host::Host& h, bool writable) {
  for (const char* name : {"memory", "pids", "cpu", "cpuacct"}) {
    host::CgroupV1Controller c;
    c.mount = std::string("/sys/fs/cgroup/") + name;
    c.self = "/";
    c.writable = writable;
    c.memsw = std::string(name) == "memory";
    if (!writable) c.problem = c.mount + " is not writable by uid 1000";
    h.cgroup_v1[name] = c;
  }
}

// This machine: cgroup v2 at /sys/fs/cgroup/unified without controllers, v1 holding them.
host::Host hybrid(bool root) {
  host::Host h = base_host();
  h.euid = root ? 0 : 1000;
  auto& v2 = h.cgroup_v2;
  v2.mounted = true;
  v2.writable = root;
  v2.mount = "/sys/fs/cgroup/unified";
  v2.self = "/";
  v2.problem = "memory, pids, cpu are attached to cgroup v1 (a hybrid host), not to cgroup v2";
  add_v1(h, root);
  return h;
}

host::Host v1_only() {
  host::Host h = base_host();
  h.cgroup_v2.problem = "no cgroup2 filesystem is mounted";
  add_v1(h, true);
  return h;
}

host::Host nothing() {
  host::Host h = hybrid(false);
  return h;
}

bool mentions(const std::vector<std::string>& lines, const std::string& what) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(what) != std::string::npos; });
}

}  // namespace

TEST_CASE("decide: delegated cgroup v2 enforces every limit, with no warning") {
  auto e = plan::decide_cgroup(all_limits(), v2_delegated());
  CHECK(e.kind == plan::CgroupKind::v2);
  CHECK(e.memory);
  CHECK(e.memory_swap);
  CHECK(e.pids);
  CHECK(e.cpus);
  CHECK(e.cpu_time);
  CHECK_FALSE(e.rlimit_as);
  CHECK_FALSE(e.rlimit_nproc);
  CHECK(e.controllers == std::vector<std::string>{"memory", "pids", "cpu"});
  CHECK(e.warnings.empty());
  CHECK(e.notes.empty());
  CHECK(std::string(plan::to_string(e.kind)) == "v2");
}

TEST_CASE("decide: cgroup v2 without controllers keeps cpu_time, falls back to rlimits and says why") {
  auto e = plan::decide_cgroup(all_limits(), v2_without_controllers());
  CHECK(e.kind == plan::CgroupKind::v2);
  CHECK(e.cpu_time);  // cpu.stat exists in every cgroup
  CHECK_FALSE(e.memory);
  CHECK_FALSE(e.pids);
  CHECK_FALSE(e.cpus);
  CHECK(e.rlimit_as);
  CHECK(e.rlimit_nproc);
  CHECK(e.controllers.empty());
  REQUIRE(e.warnings.size() == 3);
  CHECK(mentions(e.warnings, "limits.memory (256MiB): enforced with RLIMIT_AS"));
  CHECK(mentions(e.warnings, "limits.pids (64): enforced with RLIMIT_NPROC"));
  CHECK(mentions(e.warnings, "limits.cpus (1.5): not enforced"));
  CHECK(mentions(e.warnings, "3 other process(es)"));  // the reason travels with the warning
  CHECK(mentions(e.notes, "memory.peak_bytes"));
}

TEST_CASE("decide: hybrid host as root uses cgroup v1 for everything") {
  auto e = plan::decide_cgroup(all_limits(), hybrid(true));
  CHECK(e.kind == plan::CgroupKind::v1);
  CHECK(e.memory);
  CHECK(e.memory_swap);
  CHECK(e.pids);
  CHECK(e.cpus);
  CHECK(e.cpu_time);
  CHECK(e.controllers == std::vector<std::string>{"memory", "pids", "cpu", "cpuacct"});
  CHECK(e.warnings.empty());
}

TEST_CASE("decide: cgroup v1 only") {
  auto limits = all_limits();
  limits.cpus.reset();
  auto e = plan::decide_cgroup(limits, v1_only());
  CHECK(e.kind == plan::CgroupKind::v1);
  CHECK(e.controllers == std::vector<std::string>{"memory", "pids", "cpuacct"});  // no cpu without a quota
  CHECK(e.warnings.empty());
}

TEST_CASE("decide: nothing usable: every limit falls back, each warning says why") {
  auto e = plan::decide_cgroup(all_limits(), nothing());
  CHECK(e.kind == plan::CgroupKind::none);
  CHECK(e.rlimit_as);
  CHECK(e.rlimit_nproc);
  CHECK_FALSE(e.cpu_time);
  REQUIRE(e.warnings.size() == 4);
  CHECK(mentions(e.warnings, "limits.cpu_time (10s): enforced per process with RLIMIT_CPU only"));
  CHECK(mentions(e.warnings, "no usable cgroup (cgroup v2: memory, pids, cpu are attached to cgroup v1"));
  CHECK(mentions(e.warnings, "cgroup v1 memory: /sys/fs/cgroup/memory is not writable by uid 1000"));
  CHECK(mentions(e.warnings, "cgroup v1 cpuacct: /sys/fs/cgroup/cpuacct is not writable"));
  CHECK(mentions(e.warnings, "this jail only"));  // 6.1: RLIMIT_NPROC counts per user namespace
}

TEST_CASE("decide: RLIMIT_NPROC before 5.14 is said to count the whole host user") {
  auto h = nothing();
  h.kernel_major = 5;
  h.kernel_minor = 10;
  auto e = plan::decide_cgroup(all_limits(), h);
  CHECK(mentions(e.warnings, "every process of the jail's host user"));
}

TEST_CASE("decide: unlimited limits need nothing and warn about nothing") {
  Limits limits;
  limits.memory_bytes.reset();
  limits.pids.reset();
  limits.cpus.reset();
  limits.cpu_time_ms.reset();
  auto e = plan::decide_cgroup(limits, nothing());
  CHECK(e.warnings.empty());
  CHECK_FALSE(e.rlimit_as);
  CHECK_FALSE(e.rlimit_nproc);
  // ... and a usable cgroup is still used, for the report's usage figures.
  auto v2 = plan::decide_cgroup(limits, v2_delegated());
  CHECK(v2.kind == plan::CgroupKind::v2);
  CHECK(v2.controllers == std::vector<std::string>{"memory", "pids"});
}

TEST_CASE("decide: swap without swap accounting is a warning; no swap, no warning") {
  auto h = v2_delegated();
  h.cgroup_v2.swap_accounting = false;
  auto quiet = plan::decide_cgroup(all_limits(), h);
  CHECK_FALSE(quiet.memory_swap);
  CHECK(quiet.warnings.empty());
  h.swap_total_bytes = 1ull << 30;
  auto e = plan::decide_cgroup(all_limits(), h);
  REQUIRE(e.warnings.size() == 1);
  CHECK(mentions(e.warnings, "up to 1GiB of swap"));
}

TEST_CASE("decide: v2 is preferred when it does as much as v1, v1 when it does more") {
  auto h = hybrid(true);
  h.cgroup_v2.delegated = {"memory", "pids", "cpu"};
  CHECK(plan::decide_cgroup(all_limits(), h).kind == plan::CgroupKind::v2);
  h.cgroup_v2.delegated = {"memory"};
  CHECK(plan::decide_cgroup(all_limits(), h).kind == plan::CgroupKind::v1);
}

TEST_CASE("decide: kernel without memory.peak is noted, not warned") {
  auto h = v2_delegated();
  h.memory_peak = false;
  h.kernel = "5.15.0";
  auto e = plan::decide_cgroup(all_limits(), h);
  CHECK(e.warnings.empty());
  CHECK(mentions(e.notes, "kernel 5.15.0 has no memory.peak"));
}

TEST_CASE("cgroupfs files: cpu.stat, memory.events, pids.events, oom_control, procs, numbers") {
  auto stat = cgroup::parse_keyed("usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\nnr_periods 0\n");
  CHECK(stat["usage_usec"] == 1234567);
  CHECK(stat["system_usec"] == 234567);
  auto events = cgroup::parse_keyed("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
  CHECK(events["oom_kill"] == 1);
  CHECK(events["max"] == 12);
  CHECK(cgroup::parse_keyed("max 3\n")["max"] == 3);
  auto control = cgroup::parse_keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  CHECK(control["oom_kill"] == 2);
  CHECK(cgroup::parse_keyed("junk\nkey notanumber\nkey2 -1\n").empty());

  CHECK(cgroup::parse_pids("12\n345\n\n") == std::vector<pid_t>{12, 345});
  CHECK(cgroup::parse_pids("").empty());
  CHECK(cgroup::parse_number("104857600\n") == 104857600u);
  CHECK_FALSE(cgroup::parse_number("max\n"));
}

TEST_CASE("our directory names carry the owner pid; other names are never ours") {
  std::string name = cgroup::jail_name(4242, "0123456789ab");
  CHECK(name == "agentjail-4242-0123456789ab");
  CHECK(cgroup::owner_of(name) == 4242);
  CHECK(cgroup::owner_of(cgroup::self_leaf_name(name)) == 4242);
  CHECK_FALSE(cgroup::owner_of("agentjail-4242"));
  CHECK_FALSE(cgroup::owner_of("agentjail-x-abc"));
  CHECK_FALSE(cgroup::owner_of("agentjail-12-XYZ"));
  CHECK_FALSE(cgroup::owner_of("agentjail-0-abc"));
  CHECK_FALSE(cgroup::owner_of("user.slice"));
  CHECK_FALSE(cgroup::owner_of("agentjail-12-abc-other"));
}

TEST_CASE("cpu quota: 100 ms period, at least 1 ms of quota") {
  CHECK(cgroup::cpu_max(plan::cpu_quota(1.5)) == "150000 100000");
  CHECK(cgroup::cpu_max(plan::cpu_quota(0.001)) == "1000 100000");
  CHECK(plan::cpu_quota(2).quota_us == 200000);
}

// ---- As root only: a real cgroup below our own, a child of ours in it, and nothing left after.

namespace {

bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A child that waits for a byte on `go`, then burns ~300 ms of CPU, touches 32 MiB, tries 20
// forks (reporting the failures on `report`) and sleeps until killed.
pid_t start_child(int go, int report) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  char byte;
  if (::read(go, &byte, 1) != 1) ::_exit(2);
  volatile uint64_t spin = 0;
  timespec start{}, now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
  do {
    for (int i = 0; i < 100000; ++i) spin = spin + static_cast<uint64_t>(i);
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 300);
  const size_t size = 32u << 20;
  char* memory = static_cast<char*>(std::malloc(size));
  if (memory) std::memset(memory, 1, size);
  int failed = 0;
  for (int i = 0; i < 20; ++i) {
    pid_t grandchild = ::fork();
    if (grandchild == 0) {
      ::pause();
      ::_exit(0);
    }
    if (grandchild < 0) ++failed;
  }
  if (::write(report, &failed, sizeof failed) != sizeof failed) ::_exit(3);
  while (true) ::pause();
}

void reap_everything() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

}  // namespace

TEST_CASE("JailCgroup (root): limits written, usage read, kill_all and removal") {
  if (::geteuid() != 0) SKIP_TEST("needs root");
  const host::Host host = host::probe();
  Limits limits = all_limits();
  limits.memory_bytes = 128ull << 20;
  limits.pids = 8;
  const auto enforcement = plan::decide_cgroup(limits, host);
  if (enforcement.kind == plan::CgroupKind::none || !enforcement.pids || !enforcement.memory) {
    SKIP_TEST("no cgroup with the memory and pids controllers can be created here");
  }
  // Grandchildren are re-parented to us, so we can reap them after the kill.
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  std::vector<std::string> paths;
  {
    auto created = cgroup::JailCgroup::create("feedfacecafe0000", limits, enforcement, host);
    REQUIRE_MESSAGE(created, created.error().what());
    cgroup::JailCgroup& cg = *created;
    paths = cg.paths();
    REQUIRE_FALSE(paths.empty());
    for (const auto& path : paths) {
      CHECK(exists(path));
      CHECK(path.find("/agentjail-" + std::to_string(::getpid()) + "-feedfacecafe") != std::string::npos);
    }
    if (cg.kind() == plan::CgroupKind::v2) {
      CHECK(slurp(paths[0] + "/memory.max") == "134217728\n");
      CHECK(slurp(paths[0] + "/pids.max") == "8\n");
      CHECK(slurp(paths[0] + "/cpu.max") == "150000 100000\n");
    } else {
      auto in = [&](const char* file) {
        for (const auto& p : paths)
          if (exists(p + "/" + file)) return slurp(p + "/" + file);
        return std::string("missing");
      };
      CHECK(in("memory.limit_in_bytes") == "134217728\n");
      CHECK(in("pids.max") == "8\n");
      CHECK(in("cpu.cfs_quota_us") == "150000\n");
    }

    int go[2], report[2];
    REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
    pid_t child = start_child(go[0], report[1]);
    REQUIRE(child > 0);
    REQUIRE(cg.attach(child));
    REQUIRE(::write(go[1], "x", 1) == 1);
    int failed = -1;
    REQUIRE(::read(report[0], &failed, sizeof failed) == sizeof failed);
    CHECK(failed >= 20 - 7);  // 8 tasks at most: the child and 7 grandchildren

    auto used = cg.cpu_ms();
    REQUIRE(used);
    CHECK(*used >= 250.0);
    auto usage = cg.usage();
    REQUIRE(usage.user_ms);
    CHECK(*usage.user_ms + *usage.system_ms >= 250.0);
    REQUIRE(usage.memory_peak_bytes);
    CHECK(*usage.memory_peak_bytes >= (32ull << 20));
    CHECK(usage.pids_max_hit);
    if (usage.pids_peak) CHECK(*usage.pids_peak == 8);
    CHECK_FALSE(usage.oom_killed);

    REQUIRE(cg.kill_all());
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    for (int fd : {go[0], go[1], report[0], report[1]}) ::close(fd);
  }
  for (const auto& path : paths) CHECK_FALSE(exists(path));
  reap_everything();
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_CASE("JailCgroup (root): the destructor kills what is left and removes the directory") {
  if (::geteuid() != 0) SKIP_TEST("needs root");
  const host::Host host = host::probe();
  const auto enforcement = plan::decide_cgroup(all_limits(), host);
  if (enforcement.kind == plan::CgroupKind::none) SKIP_TEST("no cgroup (v2 or v1) can be created here");
  pid_t child = -1;
  std::vector<std::string> paths;
  {
    auto created = cgroup::JailCgroup::create("0123456789abcdef", all_limits(), enforcement, host);
    REQUIRE_MESSAGE(created, created.error().what());
    paths = created->paths();
    child = ::fork();
    if (child == 0) {
      while (true) ::pause();
    }
    REQUIRE(created->attach(child));
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  for (const auto& path : paths) CHECK_FALSE(exists(path));
}

namespace {

// Our own cgroup directory where we may create children: v2's, else the first writable v1
// hierarchy's; "" when there is none.
std::string own_writable_cgroup(const host::Host& host) {
  if (host.cgroup_v2.mounted && host.cgroup_v2.writable) return host.cgroup_v2.self_dir();
  for (const auto& [name, c] : host.cgroup_v1)
    if (c.writable) return c.self_dir();
  return "";
}

}  // namespace

TEST_CASE("remove_stale (root): removes dead owners' empty directories, never live or locked ones") {
  if (::geteuid() != 0) SKIP_TEST("needs root");
  const host::Host host = host::probe();
  const std::string parent = own_writable_cgroup(host);
  if (parent.empty()) SKIP_TEST("no writable cgroup (v2 or v1) of our own here");

  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);
  const std::string stale = parent + "/" + cgroup::jail_name(dead, "0000000000aa");
  const std::string stale_leaf = cgroup::self_leaf_name(stale);
  const std::string live = parent + "/" + cgroup::jail_name(1, "0000000000bb");  // pid 1 is alive
  const std::string locked = parent + "/" + cgroup::jail_name(dead, "0000000000cc");
  for (const auto& path : {stale, stale_leaf, live, locked}) REQUIRE(::mkdir(path.c_str(), 0755) == 0);
  int lock_fd = ::open(locked.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(lock_fd >= 0);
  REQUIRE(::syscall(SYS_flock, lock_fd, LOCK_EX | LOCK_NB) == 0);

  int removed = cgroup::remove_stale(host);
  CHECK(removed >= 2);
  CHECK_FALSE(exists(stale));
  CHECK_FALSE(exists(stale_leaf));
  CHECK(exists(live));
  CHECK(exists(locked));
  ::close(lock_fd);
  ::rmdir(live.c_str());
  ::rmdir(locked.c_str());
}

TEST_CASE("remove_stale (root): an owner that is a zombie, not yet reaped, is dead") {
  if (::geteuid() != 0) SKIP_TEST("needs root");
  const host::Host host = host::probe();
  const std::string parent = own_writable_cgroup(host);
  if (parent.empty()) SKIP_TEST("no writable cgroup (v2 or v1) of our own here");

  pid_t zombie = ::fork();
  if (zombie == 0) ::_exit(0);
  // Wait until it has exited, without reaping it (WNOWAIT leaves the zombie in place).
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(zombie), &info, WEXITED | WNOWAIT) == 0);
  REQUIRE(::kill(zombie, 0) == 0);  // still "exists" for kill(): the case under test
  const std::string stale = parent + "/" + cgroup::jail_name(zombie, "0000000000dd");
  REQUIRE(::mkdir(stale.c_str(), 0755) == 0);
  cgroup::remove_stale(host);
  const bool left = exists(stale);
  ::rmdir(stale.c_str());
  REQUIRE(::waitpid(zombie, nullptr, 0) == zombie);
  CHECK_FALSE(left);
}
