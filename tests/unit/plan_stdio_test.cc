// plan/stdio.h: which of the caller's standard streams the jail gets through a relay.
#include "plan/stdio.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

using namespace aj;

namespace {

plan::Plan jail_as(uint32_t uid, uint32_t gid) {
  plan::Plan plan;
  plan.uid_map = {65534, uid, 1};
  plan.gid_map = {65534, gid, 1};
  return plan;
}

plan::StreamFacts file(mode_t type_and_mode, uid_t uid, gid_t gid, bool terminal = false) {
  return {.open = true, .terminal = terminal, .mode = type_and_mode, .uid = uid, .gid = gid};
}

}  // namespace

TEST_CASE("stdio: reopenable by the owner, group or other bits that apply, and only those") {
  CHECK(plan::reopenable(file(S_IFIFO | 0600, 1000, 1000), 1000, 5, true));
  CHECK_FALSE(plan::reopenable(file(S_IFIFO | 0600, 0, 0), 1000, 1000, true));
  CHECK(plan::reopenable(file(S_IFREG | 0620, 0, 5), 1000, 5, true));
  CHECK_FALSE(plan::reopenable(file(S_IFREG | 0620, 0, 5), 1000, 5, false));
  CHECK(plan::reopenable(file(S_IFCHR | 0666, 0, 0), 1000, 1000, false));
  // The owner's bits decide for the owner even when "other" would allow more, as the kernel does.
  CHECK_FALSE(plan::reopenable(file(S_IFREG | 0466, 1000, 0), 1000, 0, true));
}

TEST_CASE("stdio: run by root, the caller's pipes and files go through a relay") {
  const auto plan = jail_as(1879048200, 1879048200);
  CHECK(plan::needs_relay(file(S_IFIFO | 0600, 0, 0), plan, true));
  CHECK(plan::needs_relay(file(S_IFIFO | 0600, 0, 0), plan, false));
  CHECK(plan::needs_relay(file(S_IFREG | 0644, 0, 0), plan, true));
  CHECK_FALSE(plan::needs_relay(file(S_IFREG | 0644, 0, 0), plan, false));  // stdin: anyone may read it
  CHECK_FALSE(plan::needs_relay(file(S_IFCHR | 0666, 0, 0), plan, true));    // /dev/null
}

TEST_CASE("stdio: terminals, sockets and closed descriptors are never relayed") {
  const auto plan = jail_as(1879048200, 1879048200);
  CHECK_FALSE(plan::needs_relay(file(S_IFCHR | 0620, 0, 5, true), plan, true));  // isatty() stays true
  CHECK_FALSE(plan::needs_relay(file(S_IFSOCK | 0777, 0, 0), plan, true));      // nobody reopens a socket
  CHECK_FALSE(plan::needs_relay(plan::StreamFacts{}, plan, true));
  CHECK_FALSE(plan::needs_relay(file(S_IFDIR | 0700, 0, 0), plan, false));
}

TEST_CASE("stdio: an ordinary caller's own pipes are the jail's own: no relay") {
  const auto plan = jail_as(1000, 1000);
  CHECK_FALSE(plan::needs_relay(file(S_IFIFO | 0600, 1000, 1000), plan, true));
  // ... unless someone else made them (a root parent's pipe handed to setpriv'd agentjail).
  CHECK(plan::needs_relay(file(S_IFIFO | 0600, 0, 0), plan, true));
}
