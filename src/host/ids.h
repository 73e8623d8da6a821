// Host ids for jails: the range agentjail leases a uid (and the gid of the same number) per
// jail from when root runs it, the ids the host's accounts already use, the caller's
// subordinate ids, and the lease itself (a lock held for the jail's life). man agentjail(1),
// HOST IDS, documents the range and the locks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "sys/fd.h"

namespace aj::host {

// `count` ids from `first` on.
struct IdRange {
  uint32_t first = 0;
  uint32_t count = 0;
  uint32_t last() const { return first + count - 1; }
  bool contains(uint32_t id) const { return count > 0 && id >= first && id - first < count; }
  bool overlaps(const IdRange& other) const {
    return count > 0 && other.count > 0 && first <= other.last() && other.first <= last();
  }
};

// The default range: 65536 ids from 0x70000000 (1879048192). Above the block systemd-nspawn
// picks container ranges from (0x80000 to 0x6FFFFFFF), below systemd's foreign-uid range
// (0x7FFE0000) and the signed-int boundary, far above useradd's /etc/subuid allocations.
constexpr IdRange kDefaultJailIds{0x70000000u, 65536};

// The environment variable that sets the range for every run of this host's agentjail
// (`--uid-range` on the command line wins).
constexpr const char* kIdRangeEnv = "AGENTJAIL_UID_RANGE";

// Where the leases' lock files live: one file per id, flock()ed while a jail has it.
constexpr const char* kLeaseDir = "/run/agentjail/uids";

// "FIRST-LAST" (inclusive) -> the range; refuses 0, 65534 (nobody), 4294967295 and empty or
// reversed ranges, with a message naming the text.
Result<IdRange> parse_id_range(std::string_view text);
std::string to_string(const IdRange& range);  // "FIRST-LAST"
// The range this run uses: `flag` (`--uid-range`) when not empty, else AGENTJAIL_UID_RANGE
// when set, else kDefaultJailIds.
Result<IdRange> configured_id_range(const std::string& flag);

// Ids the host's accounts and subordinate-id grants use: every uid and gid of /etc/passwd,
// every gid of /etc/group, every range of /etc/subuid and /etc/subgid. Sorted, merged.
struct IdsInUse {
  std::vector<IdRange> ranges;
  bool contains(uint32_t id) const;
  void add(IdRange range);
};
// The parsers (pure; malformed lines are skipped, as the shadow tools skip them).
void add_passwd_ids(IdsInUse& used, std::string_view passwd);   // fields 3 and 4
void add_group_ids(IdsInUse& used, std::string_view group);     // field 3
void add_subid_ranges(IdsInUse& used, std::string_view subid);  // NAME:FIRST:COUNT
// Reads the four files (a missing one adds nothing).
IdsInUse read_ids_in_use();

// The subordinate ids /etc/subuid (or /etc/subgid) grants the user `name` or uid `id`.
std::vector<IdRange> subid_ranges_of(std::string_view subid, std::string_view name, uint32_t id);

// How many ids of `range` no account uses (doctor).
uint64_t unused_count(const IdRange& range, const IdsInUse& used);

// A host id leased to one jail: the lock on its file is held while this lives (and by nothing
// else: the descriptor is close-on-exec, and the kernel drops the lock when the last copy of
// it closes, so a SIGKILLed agentjail leaks nothing).
class IdLease {
 public:
  IdLease(uint32_t id, sys::UniqueFd lock) : id_(id), lock_(std::move(lock)) {}
  uint32_t id() const { return id_; }

 private:
  uint32_t id_;
  sys::UniqueFd lock_;
};

// Where a caller's leases live: kLeaseDir for root; for an ordinary user (leasing from its
// subordinate ids), /tmp/agentjail-UID/uids, a directory of its own.
std::string lease_dir_for(uid_t euid);

// Leases a free id of `range`: not used by any account in `used`, not locked by another
// jail. Starts at a random point of the range, so an id just given back is not the next one
// handed out. Every component of `dir` must be root's or the caller's and closed to others
// (sticky ones such as /tmp aside). EAGAIN when every id of the range is taken.
Result<IdLease> lease_id(const IdRange& range, const IdsInUse& used, const std::string& dir = kLeaseDir);

// How many ids of `range` are leased right now (doctor; -1 when the lock directory cannot be
// read).
int64_t leased_count(const IdRange& range, const std::string& dir = kLeaseDir);

// Whether `newuidmap` and `newgidmap` (the uidmap package) are installed and can gain their
// privileges here (not on a nosuid mount, no no_new_privs, CAP_SETUID and CAP_SETGID in the
// bounding set), for
// ordinary callers with subordinate ids.
bool have_newidmap_tools();

}  // namespace aj::host
