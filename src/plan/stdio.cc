#include "plan/stdio.h"

#include <sys/stat.h>

namespace aj::plan {

bool reopenable(const StreamFacts& facts, uint32_t host_uid, uint32_t host_gid, bool for_write) {
  const mode_t want = for_write ? 2 : 4;
  mode_t bits = facts.mode & 07;
  if (facts.uid == host_uid) bits = (facts.mode >> 6) & 07;
  else if (facts.gid == host_gid) bits = (facts.mode >> 3) & 07;
  return (bits & want) != 0;
}

bool needs_relay(const StreamFacts& facts, const Plan& plan, bool for_write) {
  if (!facts.open || facts.terminal || S_ISSOCK(facts.mode)) return false;
  if (!S_ISFIFO(facts.mode) && !S_ISREG(facts.mode) && !S_ISCHR(facts.mode) && !S_ISBLK(facts.mode)) return false;
  return !reopenable(facts, plan.uid_map.outside, plan.gid_map.outside, for_write);
}

}  // namespace aj::plan
