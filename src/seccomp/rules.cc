// From SeccompSpec to libseccomp rules: which calls are allowed, with which arguments, and what
// every refusal does. The refusals every policy gets (agentjail-policy(5), "Calls treated the
// same whatever the policy says") live here.
#include "seccomp/rules.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "syscalls/sets.h"

namespace aj::seccomp::detail {
using namespace aj::syscalls;  // the sets and special calls the rules are made of
namespace {

// Every namespace flag clone() takes (CLONE_NEWTIME exists only for unshare and clone3; in
// clone()'s first argument 0x80 is part of the exit signal). Docker masks the same bits.
constexpr uint32_t kCloneNamespaceFlags =
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;
static_assert(kCloneNamespaceFlags == 0x7E020000);

// personality() values that change nothing security-relevant: PER_LINUX, PER_LINUX32,
// UNAME26, both, and 0xffffffff (query the current persona). Docker's list.
constexpr uint32_t kHarmlessPersonalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

// ioctl requests that inject input into a terminal or poke the console.
constexpr uint32_t kForbiddenIoctls[] = {TIOCSTI, TIOCLINUX};
// The request bits that name the 256-request block both are in (type 'T', 0x54xx).
constexpr uint32_t kIoctlBlockMask = 0xffffff00;
constexpr uint32_t kIoctlBlock = TIOCSTI & kIoctlBlockMask;
static_assert((TIOCLINUX & kIoctlBlockMask) == kIoctlBlock);
constexpr uint64_t kUpperHalf = 0xffffffff00000000;

// The mode bits that make a program run with its file's owner or group (systemd's
// RestrictSUIDSGID=). The jail's mounts are nosuid, but a read-write bind is the host's own
// directory: a setuid file left there runs, for any host user, as the jail's host uid.
constexpr uint32_t kSetIdBits = S_ISUID | S_ISGID;
// open() and openat() take a mode only when they create: O_CREAT, or O_TMPFILE, whose bit of
// its own is the kernel's __O_TMPFILE (glibc's __O_TMPFILE and O_TMPFILE add O_DIRECTORY).
constexpr uint32_t kKernelTmpfileBit = 020000000;
static_assert((O_TMPFILE & ~O_DIRECTORY) == kKernelTmpfileBit);
constexpr uint32_t kCreatingFlags = O_CREAT | kKernelTmpfileBit;

// The calls that set a file's mode, and where its mode (and, for the opens, its flags) is.
// The kernel reads both as int or umode_t: only the low 32 bits count, and the bits tested
// are all in the low 16. mknod makes regular files too (S_IFREG needs no CAP_MKNOD).
// fchmodat2 (452, Linux 6.6) is not refused as a number unknown to libseccomp: bookworm's
// 2.5.4-1+deb12u1 resolves it, @file-system allows it, and unchecked it would set the bits
// fchmodat may not.
// openat2 takes its flags and mode in a struct the filter cannot read, so it answers ENOSYS
// (sets.cc, as for clone3; systemd does the same): glibc never calls it, and the programs
// that do fall back to openat, checked here, on ENOSYS (kernels before 5.6) but not on EPERM.
// agentjail's own openat2 calls (sys/path.cc, building the root) run in the init, before the
// command child installs the filter as its last step.
struct ModeArgument {
  std::string_view name;
  unsigned mode;
  int flags = -1;  // -1: the call always creates or changes the mode
};
constexpr ModeArgument kModeSetters[] = {
    {"chmod", 1}, {"fchmod", 1},  {"fchmodat", 2}, {"fchmodat2", 2}, {"creat", 1},
    {"mknod", 1}, {"mknodat", 2}, {"open", 2, 1},  {"openat", 3, 2},
};

const ModeArgument* mode_setter(std::string_view name) {
  for (const auto& call : kModeSetters)
    if (call.name == name) return &call;
  return nullptr;
}

constexpr std::string_view kJailNeeds[] = {"execve", "exit", "exit_group", "rt_sigreturn"};

scmp_arg_cmp lo32_masked(unsigned arg, uint32_t mask, uint32_t value) {
  // The 64-bit mask has its high half clear: the kernel truncates int-sized arguments, so
  // what a caller puts in the upper 32 bits must not change the verdict.
  return scmp_arg_cmp{arg, SCMP_CMP_MASKED_EQ, mask, value};
}
scmp_arg_cmp lo32_equals(unsigned arg, uint32_t value) { return lo32_masked(arg, 0xffffffffu, value); }

std::vector<std::vector<scmp_arg_cmp>> each_pattern(unsigned arg, std::span<const uint32_t> values, bool complement) {
  std::vector<std::vector<scmp_arg_cmp>> out;
  if (complement) {
    for (const auto& pattern : complement32(values)) out.push_back({lo32_masked(arg, pattern.mask, pattern.value)});
  } else {
    for (uint32_t value : values) out.push_back({lo32_equals(arg, value)});
  }
  return out;
}

// The argument conditions under which an argument-checked call is harmless (`allowed`), or
// harmful (!allowed). Each inner vector is one rule; the two lists never overlap, so the
// order libseccomp evaluates them in cannot matter.
std::vector<std::vector<scmp_arg_cmp>> argument_patterns(std::string_view name, const SeccompSpec& spec,
                                                         bool allowed) {
  std::vector<std::vector<scmp_arg_cmp>> out;
  if (name == "clone") {
    if (allowed) return {{lo32_masked(0, kCloneNamespaceFlags, 0)}};
    for (uint32_t bit = 1; bit != 0; bit <<= 1)
      if (kCloneNamespaceFlags & bit) out.push_back({lo32_masked(0, bit, bit)});
    return out;
  }
  if (name == "ioctl") {
    if (allowed) {
      // Speed only, the verdicts are the same. libseccomp tests an argument's patterns in
      // descending order of value, so the terminal requests programs issue all the time
      // (TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX: the 0x54xx block TIOCSTI and
      // TIOCLINUX sit in) would be matched only after some twenty patterns for other blocks.
      // The patterns inside that block come first a second time, with the upper half of the
      // mask set: libseccomp tests that upper-half check first (it keeps the order of rules
      // that tie on the value), and a request with upper bits set still meets the 32-bit
      // patterns after it.
      for (const auto& pattern : complement32(kForbiddenIoctls))
        if ((pattern.mask & kIoctlBlockMask) == kIoctlBlockMask && (pattern.value & kIoctlBlockMask) == kIoctlBlock)
          out.push_back({scmp_arg_cmp{1, SCMP_CMP_MASKED_EQ, kUpperHalf | pattern.mask, pattern.value}});
    }
    for (auto& rule : each_pattern(1, kForbiddenIoctls, allowed)) out.push_back(std::move(rule));
    return out;
  }
  if (name == "seccomp") {
    // seccomp(op, flags, args). A filter of the jail's own with a listener would tie with ours
    // on SECCOMP_RET_USER_NOTIF, win as the newer one and could answer CONTINUE to calls we
    // refuse. The kernel already refuses a second listener while ours is open (EBUSY); this
    // keeps it refused whatever the listener's lifetime.
    const uint32_t flag = SECCOMP_FILTER_FLAG_NEW_LISTENER;
    return {{lo32_masked(1, flag, allowed ? 0 : flag)}};
  }
  if (name == "personality") return each_pattern(0, kHarmlessPersonalities, !allowed);
  if (const ModeArgument* call = mode_setter(name)) {
    // Allowed: no set-id bit, or (for the opens) not creating. Refused: a set-id bit and (for
    // the opens) a creating flag, one rule per pair of bits. The refused rules overlap each
    // other, never an allowed one.
    if (allowed) {
      out.push_back({lo32_masked(call->mode, kSetIdBits, 0)});
      if (call->flags >= 0) out.push_back({lo32_masked(static_cast<unsigned>(call->flags), kCreatingFlags, 0)});
      return out;
    }
    for (uint32_t mode_bit : {uint32_t{S_ISUID}, uint32_t{S_ISGID}}) {
      if (call->flags < 0) {
        out.push_back({lo32_masked(call->mode, mode_bit, mode_bit)});
        continue;
      }
      for (uint32_t flag_bit : {uint32_t{O_CREAT}, kKernelTmpfileBit})
        out.push_back({lo32_masked(static_cast<unsigned>(call->flags), flag_bit, flag_bit),
                       lo32_masked(call->mode, mode_bit, mode_bit)});
    }
    return out;
  }
  // socket(domain, type, protocol) and socketpair(domain, type, protocol, sv[2]).
  auto families = socket_families(spec.network);
  bool netlink = std::find(families.begin(), families.end(), uint32_t{AF_NETLINK}) != families.end();
  if (allowed) {
    for (uint32_t family : families) {
      if (family == AF_NETLINK)
        out.push_back({lo32_equals(0, AF_NETLINK), lo32_equals(2, NETLINK_ROUTE)});
      else
        out.push_back({lo32_equals(0, family)});
    }
    return out;
  }
  out = each_pattern(0, families, true);
  if (netlink) {
    const uint32_t route[] = {NETLINK_ROUTE};
    for (const auto& pattern : complement32(route))
      out.push_back({lo32_equals(0, AF_NETLINK), lo32_masked(2, pattern.mask, pattern.value)});
  }
  return out;
}

uint32_t errno_action(int value) { return SCMP_ACT_ERRNO(static_cast<uint16_t>(value)); }

class Builder {
 public:
  explicit Builder(RuleSet& set) : set_(set) {}

  Status add(std::string_view name, uint32_t action, std::vector<scmp_arg_cmp> conditions = {}) {
    // libseccomp refuses a rule whose action is the default one; the default does the same.
    if (action == set_.default_action) return {};
    int nr = seccomp_syscall_resolve_name(std::string(name).c_str());
    if (nr == __NR_SCMP_ERROR) return fail(EINVAL, fmt::format("unknown system call {}", quoted(name)));
    if (nr < 0) return {};  // exists only on other architectures (libseccomp's pseudo number)
    set_.rules.push_back(Rule{std::string(name), nr, action, std::move(conditions)});
    return {};
  }

 private:
  RuleSet& set_;
};

bool contains(std::span<const std::string_view> list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

bool contains(std::span<const SpecialCall> list, std::string_view name) {
  return std::any_of(list.begin(), list.end(), [&](const SpecialCall& call) { return call.name == name; });
}

Status add_entries(const std::vector<std::string>& entries, std::string_view key, std::set<std::string>& out) {
  for (const auto& entry : entries) {
    if (entry.starts_with('@')) {
      if (!find_set(entry)) return fail(EINVAL, fmt::format("seccomp.{}: unknown syscall set {}", key, quoted(entry)));
      for (auto& name : expand(entry)) out.insert(std::move(name));
    } else {
      if (!is_syscall_name(entry)) return fail(EINVAL, fmt::format("seccomp.{}: unknown system call {}", key, quoted(entry)));
      out.insert(entry);
    }
  }
  return {};
}

}  // namespace

std::vector<Pattern> complement32(std::span<const uint32_t> values) {
  std::vector<uint32_t> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<Pattern> out;
  // Walk the binary trie of `sorted` from the top bit down: every sibling subtree that holds
  // none of the values is one pattern (its prefix under the mask of the bits fixed so far).
  struct Walker {
    std::vector<Pattern>& out;
    void walk(uint32_t prefix, int depth, std::span<const uint32_t> under) {
      if (under.empty()) {
        uint32_t mask = depth == 0 ? 0 : ~uint32_t{0} << (32 - depth);
        out.push_back({mask, prefix});
        return;
      }
      if (depth == 32) return;  // the value itself
      uint32_t bit = uint32_t{1} << (31 - depth);
      auto split = std::partition_point(under.begin(), under.end(), [&](uint32_t v) { return !(v & bit); });
      walk(prefix, depth + 1, {under.begin(), split});
      walk(prefix | bit, depth + 1, {split, under.end()});
    }
  };
  Walker{out}.walk(0, 0, sorted);
  return out;
}

std::vector<uint32_t> socket_families(plan::NetworkMode mode) {
  // AF_UNIX always: asyncio, multiprocessing and syslog use it; unix sockets reach only what
  // the mounts show, and abstract ones are scoped to the jail's network namespace.
  if (mode == plan::NetworkMode::none) return {AF_UNIX};
  // NETLINK_ROUTE: getifaddrs() and getaddrinfo(AI_ADDRCONFIG) list interfaces with it (Python,
  // Node). Reading is harmless; changing links or routes needs CAP_NET_ADMIN over the network
  // namespace, which the jail never has over the host's (mode host) and which is useless in its
  // own empty one (mode loopback). Every other netlink protocol stays closed.
  return {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
}

Result<RuleSet> build_rules(const SeccompSpec& spec) {
  if (spec.errno_value < 1 || spec.errno_value > 4095)
    return fail(EINVAL, fmt::format("seccomp.errno: {} is not an errno value (1-4095)", spec.errno_value));

  std::set<std::string> allowed, denied;
  if (auto status = add_entries(spec.allow, "allow", allowed); !status) return std::unexpected(status.error());
  if (auto status = add_entries(spec.deny, "deny", denied); !status) return std::unexpected(status.error());
  for (const auto& entry : spec.deny)
    if (contains(kJailNeeds, entry))
      return fail(EINVAL, fmt::format("seccomp.deny: {} cannot be denied: the jail needs it to start the command",
                                      quoted(entry)));
  for (const auto& name : denied)
    if (!contains(kJailNeeds, name)) allowed.erase(name);  // via a set: the jail's needs stay
  for (auto name : kJailNeeds) allowed.emplace(name);

  RuleSet set;
  const uint32_t errno_refusal = errno_action(spec.errno_value);
  switch (spec.default_action) {
    case plan::FilterAction::errno_:
      set.refusal = spec.notify ? SCMP_ACT_NOTIFY : errno_refusal;
      set.default_action = set.refusal;
      break;
    case plan::FilterAction::kill:
      set.refusal = spec.notify ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS;
      set.default_action = set.refusal;
      break;
    case plan::FilterAction::log:
      // The listener answers "log" notifications by letting the call run, so the calls that
      // must fail whatever happens get a plain errno from the kernel instead.
      set.refusal = errno_refusal;
      set.default_action = spec.notify ? SCMP_ACT_NOTIFY : SCMP_ACT_LOG;
      break;
  }

  Builder builder(set);
  auto add = [&](std::string_view name, uint32_t action, std::vector<scmp_arg_cmp> conditions = {}) -> Status {
    return builder.add(name, action, std::move(conditions));
  };

  for (const auto& call : enosys())
    if (auto status = add(call.name, errno_action(ENOSYS)); !status) return std::unexpected(status.error());

  for (const auto& name : allowed) {
    if (contains(always_denied(), name) || contains(enosys(), name)) continue;
    if (contains(argument_checked(), name)) {
      for (auto& conditions : argument_patterns(name, spec, true))
        if (auto status = add(name, SCMP_ACT_ALLOW, std::move(conditions)); !status)
          return std::unexpected(status.error());
      continue;
    }
    if (auto status = add(name, SCMP_ACT_ALLOW); !status) return std::unexpected(status.error());
  }

  // The sync socket: the listener fd and a failed execve's errno still have to reach the
  // supervisor after the filter is in. It is O_CLOEXEC, so the command never holds it.
  if (!allowed.contains("sendmsg") && spec.sync_fd >= 0)
    if (auto status = add("sendmsg", SCMP_ACT_ALLOW, {lo32_equals(0, static_cast<uint32_t>(spec.sync_fd))}); !status)
      return std::unexpected(status.error());

  // Where the default action lets calls through (log), refusals need rules of their own.
  if (set.refusal != set.default_action) {
    for (const auto& call : always_denied())
      if (auto status = add(call.name, set.refusal); !status) return std::unexpected(status.error());
    for (const auto& call : argument_checked())
      for (auto& conditions : argument_patterns(call.name, spec, false))
        if (auto status = add(call.name, set.refusal, std::move(conditions)); !status)
          return std::unexpected(status.error());
  }
  return set;
}

}  // namespace aj::seccomp::detail
