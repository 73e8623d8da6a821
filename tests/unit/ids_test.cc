// host/ids.h: the jail uid range, the ids the host's accounts use, and the per-jail lease.
#include "host/ids.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "skip.h"

using namespace aj;

TEST_CASE("uid range: FIRST-LAST, never root, nobody or the invalid id") {
  auto range = host::parse_id_range("100000-100009");
  REQUIRE(range);
  CHECK(range->first == 100000);
  CHECK(range->count == 10);
  CHECK(range->last() == 100009);
  CHECK(host::to_string(*range) == "100000-100009");
  CHECK(host::parse_id_range("7-7")->count == 1);
  for (const char* bad : {"", "5", "0-10", "10-5", "60000-70000", "a-b", "1-4294967295", "-5", "5-"}) {
    INFO(bad);
    CHECK_FALSE(host::parse_id_range(bad));
  }
  CHECK(host::parse_id_range("60000-70000").error().message.find("nobody") != std::string::npos);
  // The default keeps clear of nobody and of the signed-int boundary.
  CHECK_FALSE(host::kDefaultJailIds.contains(65534));
  CHECK(uint64_t{host::kDefaultJailIds.last()} < 0x7FFE0000u);
}

TEST_CASE("uid range: the flag wins over the environment, which wins over the default") {
  ::unsetenv(host::kIdRangeEnv);
  CHECK(host::configured_id_range("")->first == host::kDefaultJailIds.first);
  ::setenv(host::kIdRangeEnv, "200000-200099", 1);
  CHECK(host::configured_id_range("")->first == 200000);
  CHECK(host::configured_id_range("300000-300001")->first == 300000);
  ::setenv(host::kIdRangeEnv, "nonsense", 1);
  auto bad = host::configured_id_range("");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find(host::kIdRangeEnv) != std::string::npos);
  ::unsetenv(host::kIdRangeEnv);
}

TEST_CASE("ids in use: passwd uids and gids, group gids, subordinate ranges, merged") {
  host::IdsInUse used;
  host::add_passwd_ids(used, "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1001::/home/alice:/bin/sh\n"
                             "# comment\nbroken line\nnobody:x:65534:65534::/:/usr/sbin/nologin\n");
  host::add_group_ids(used, "wheel:x:10:alice\nodd:x:notanumber:\n");
  host::add_subid_ranges(used, "alice:100000:65536\nbob:165536:65536\nbad:1\nzero:5000:0\n");
  for (uint32_t id : {0u, 1000u, 1001u, 10u, 65534u, 100000u, 165535u, 165536u, 231071u}) {
    INFO(id);
    CHECK(used.contains(id));
  }
  for (uint32_t id : {1u, 999u, 1002u, 5000u, 99999u, 231072u}) {
    INFO(id);
    CHECK_FALSE(used.contains(id));
  }
  // alice's and bob's adjacent ranges are one.
  CHECK(std::count_if(used.ranges.begin(), used.ranges.end(),
                      [](const host::IdRange& r) { return r.first == 100000 && r.count == 131072; }) == 1);
  CHECK(host::unused_count({99990, 20}, used) == 10);
  CHECK(host::unused_count({300000, 5}, used) == 5);
}

TEST_CASE("subordinate ids of a caller, by name or by number") {
  const char* subuid = "alice:100000:65536\n1000:300000:10\nbob:165536:65536\n:1:1\nalice:oops:5\n";
  auto ranges = host::subid_ranges_of(subuid, "alice", 1000);
  REQUIRE(ranges.size() == 2);
  CHECK(ranges[0].first == 100000);
  CHECK(ranges[1].first == 300000);
  CHECK(host::subid_ranges_of(subuid, "", 4242).empty());
}

namespace {

struct LeaseDir {
  std::string path;
  LeaseDir() {
    // Every component of the lock directory must be root's and closed to others: not /tmp.
    char tmpl[] = "/run/aj-leases-XXXXXX";
    path = ::mkdtemp(tmpl);
    ::chmod(path.c_str(), 0755);
  }
  ~LeaseDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("lease: distinct ids while held, given back when dropped, accounts skipped") {
  if (::geteuid() != 0) SKIP_TEST("leases live in a directory of root's: needs root");
  LeaseDir dir;
  const std::string leases = dir.path + "/uids";
  const host::IdRange range{500000, 4};
  host::IdsInUse used;
  used.add({500001, 1});  // an account's
  auto a = host::lease_id(range, used, leases);
  auto b = host::lease_id(range, used, leases);
  auto c = host::lease_id(range, used, leases);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(c);
  std::set<uint32_t> ids{a->id(), b->id(), c->id()};
  CHECK(ids == std::set<uint32_t>{500000, 500002, 500003});
  CHECK(host::leased_count(range, leases) == 3);
  auto full = host::lease_id(range, used, leases);
  REQUIRE_FALSE(full);
  CHECK(full.error().code == EAGAIN);
  const uint32_t given_back = b->id();
  { auto drop = std::move(*b); }
  auto again = host::lease_id(range, used, leases);
  REQUIRE(again);
  CHECK(again->id() == given_back);
}

TEST_CASE("lease: refuses a lock directory someone else could change") {
  if (::geteuid() != 0) SKIP_TEST("leases live in a directory of root's: needs root");
  LeaseDir dir;
  ::chmod(dir.path.c_str(), 0777);
  auto leased = host::lease_id({500000, 2}, {}, dir.path + "/uids");
  REQUIRE_FALSE(leased);
  CHECK(leased.error().message.find("nobody else can write") != std::string::npos);
  ::chmod(dir.path.c_str(), 0755);
  std::filesystem::create_symlink("/tmp", dir.path + "/link");
  CHECK_FALSE(host::lease_id({500000, 2}, {}, dir.path + "/link/uids"));
}
