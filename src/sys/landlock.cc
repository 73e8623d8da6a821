#include "sys/landlock.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace aj::sys::landlock {
namespace {

// struct landlock_ruleset_attr as of ABI 6. The kernel accepts a longer struct than it knows
// as long as the bytes it does not know are zero, so one definition serves every ABI.
struct RulesetAttr {
  uint64_t handled_access_fs = 0;
  uint64_t handled_access_net = 0;
  uint64_t scoped = 0;
};

// struct landlock_path_beneath_attr: packed in the uapi, 12 bytes.
struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access = 0;
  int32_t parent_fd = -1;
};
static_assert(sizeof(PathBeneathAttr) == 12);

constexpr unsigned kCreateRulesetVersion = 1u << 0;  // LANDLOCK_CREATE_RULESET_VERSION
constexpr int kRulePathBeneath = 1;                  // LANDLOCK_RULE_PATH_BENEATH

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace

uint64_t fs_rights_of_abi(int abi) {
  if (abi < 1) return 0;
  uint64_t rights = (kMakeSym << 1) - 1;  // ABI 1: execute .. make_sym
  if (abi >= 2) rights |= kRefer;
  if (abi >= 3) rights |= kTruncate;
  if (abi >= 5) rights |= kIoctlDev;
  return rights;
}

uint64_t scopes_of_abi(int abi) { return abi >= 6 ? kScopeAbstractUnixSocket | kScopeSignal : 0; }

int abi_version() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

Result<UniqueFd> create_ruleset(uint64_t handled_fs, uint64_t scoped) {
  RulesetAttr attr{.handled_access_fs = handled_fs, .scoped = scoped};
  long fd = ::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0u);
  if (fd < 0) return fail_errno("landlock_create_ruleset(fs " + hex(handled_fs) + ", scoped " + hex(scoped) + ")");
  return UniqueFd(static_cast<int>(fd));
}

Status add_path_rule(int ruleset_fd, int parent_fd, uint64_t allowed) {
  PathBeneathAttr attr{.allowed_access = allowed, .parent_fd = parent_fd};
  if (::syscall(SYS_landlock_add_rule, ruleset_fd, kRulePathBeneath, &attr, 0u) != 0)
    return fail_errno("landlock_add_rule(path beneath, " + hex(allowed) + ")");
  return {};
}

Status restrict_self(int ruleset_fd) {
  if (::syscall(SYS_landlock_restrict_self, ruleset_fd, 0u) != 0) return fail_errno("landlock_restrict_self");
  return {};
}

}  // namespace aj::sys::landlock
