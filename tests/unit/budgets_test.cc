// The jail's share of the per-user and host-wide kernel budgets (plan/budgets.h).
#include <doctest/doctest.h>

#include <sys/resource.h>

#include "plan/budgets.h"

using namespace aj;

TEST_CASE("budgets: concurrent jails leave the caller half of each limit") {
  host::Host host;
  host.max_inotify_instances = 128;
  host.max_inotify_watches = 8192;
  host.msgqueue_bytes = 819200;
  host.concurrent_jails = 4;
  auto b = plan::jail_budgets(host);
  CHECK(b.inotify_instances == 16);
  CHECK(b.inotify_instances * host.concurrent_jails < 128);
  CHECK(b.inotify_watches == 1024);
  CHECK(b.msgqueue_bytes == 65536);
  host.concurrent_jails = 16;
  b = plan::jail_budgets(host);
  CHECK(b.inotify_instances == 4);
  CHECK(b.msgqueue_bytes * 16 < 819200);
  host.max_inotify_instances = -1;  // unknown: the cap
  host.msgqueue_bytes = RLIM_INFINITY;
  b = plan::jail_budgets(host);
  CHECK(b.inotify_instances == 32);
  CHECK(b.msgqueue_bytes == 65536);
}

TEST_CASE("budgets: vm.memfd_noexec only where root can set it, a warning where it matters") {
  host::Host host;
  host.euid = 0;
  host.memfd_noexec = 0;
  host.cap_sys_admin = true;
  std::vector<plan::MountOp> noexec_only{{.kind = plan::MountKind::tmpfs, .target = "/tmp", .noexec = true}};
  std::string warning;
  CHECK(plan::memfd_noexec_scope(host, noexec_only, &warning) == 2);
  CHECK(warning.empty());
  host.cap_sys_admin = false;
  CHECK(plan::memfd_noexec_scope(host, noexec_only, &warning) == 0);
  CHECK(warning.starts_with("memfd_create:"));
  warning.clear();
  std::vector<plan::MountOp> exec_tmp{{.kind = plan::MountKind::tmpfs, .target = "/tmp"}};
  CHECK(plan::memfd_noexec_scope(host, exec_tmp, &warning) == 0);
  CHECK(warning.empty());  // a writable exec mount runs the jail's code anyway
  host.memfd_noexec = 2;    // inherited from our own pid namespace
  CHECK(plan::memfd_noexec_scope(host, noexec_only, &warning) == 0);
  CHECK(warning.empty());
}
