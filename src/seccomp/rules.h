// Internal to src/seccomp: the filter as plain data (libseccomp rules not yet handed to
// libseccomp), so the policy decisions are testable without a libseccomp context.
#pragma once

#include <seccomp.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "seccomp/filter.h"

namespace aj::seccomp::detail {

struct Rule {
  std::string name;                        // for error messages
  int nr = 0;                              // native syscall number
  uint32_t action = 0;                     // SCMP_ACT_*
  std::vector<scmp_arg_cmp> conditions;    // all must hold (at most one per argument)
};

struct RuleSet {
  uint32_t default_action = 0;   // calls no rule matches
  uint32_t refusal = 0;          // always-denied calls, forbidden arguments, foreign architectures
  std::vector<Rule> rules;
};

// Pure: SeccompSpec -> rules. Resolves names and sets, applies deny, adds the jail's own calls
// and the argument checks. Errors name the offending allow/deny entry.
Result<RuleSet> build_rules(const SeccompSpec& spec);

// A 32-bit pattern: x matches when (x & mask) == value.
struct Pattern {
  uint32_t mask = 0;
  uint32_t value = 0;
};
// Disjoint patterns matching exactly the 32-bit values NOT in `values`. libseccomp has no
// "not equal under a mask", and the kernel reads int-sized arguments from the low 32 bits
// only, so "anything but these" is expressed as a union of masked equalities.
std::vector<Pattern> complement32(std::span<const uint32_t> values);

// The socket() address families network.mode allows (AF_NETLINK means NETLINK_ROUTE only).
std::vector<uint32_t> socket_families(plan::NetworkMode mode);

}  // namespace aj::seccomp::detail
