// The seccomp layer: sets, argument patterns, compile, cache, and the filter's verdicts on real
// system calls, checked by installing it in a forked child (no root needed).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <random>
#include <set>

#include "base/strings.h"
#include "jail/sync.h"
#include "policy/builtins.h"
#include "policy/load.h"
#include "seccomp/filter.h"
#include "syscalls/names.h"
#include "seccomp/precompiled.h"
#include "seccomp/notify.h"
#include "seccomp/rules.h"
#include "syscalls/sets.h"
#include "plan/build.h"
#include "skip.h"

using namespace aj;
using SeccompAction = plan::FilterAction;

namespace {

constexpr int kErrno = ENOMEDIUM;  // unusual on purpose: seeing it proves the filter answered

plan::SeccompSpec spec_with(SeccompAction action, std::vector<std::string> allow = {"@default"}) {
  plan::SeccompSpec spec;
  spec.default_action = action;
  spec.errno_value = kErrno;
  spec.allow = std::move(allow);
  return spec;
}

// What a call did in the filtered child: its errno (0 on success) or the signal that killed it.
struct Verdict {
  int err = 0;
  int signal = 0;
  bool allowed() const { return err == 0 && signal == 0; }
};

// Forks; the child installs `filter` and makes `call` (returns -1 with errno set, or >= 0). The
// exit status carries the errno; exit_group is allowed by every filter.
Verdict run_filtered(const seccomp::Filter& filter, const std::function<long()>& call) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int listener = -1;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seccomp::install(filter, &listener) != 0) ::_exit(250);
    long rc = call();
    ::_exit(rc >= 0 ? 0 : (errno > 0 && errno < 250 ? errno : 251));
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  if (WIFSIGNALED(status)) return {0, WTERMSIG(status)};
  REQUIRE(WEXITSTATUS(status) != 250);
  return {WEXITSTATUS(status), 0};
}

seccomp::Filter compiled(const plan::SeccompSpec& spec) {
  auto filter = seccomp::compile(spec);
  REQUIRE_MESSAGE(filter.has_value(), (filter ? "" : filter.error().what()));
  return *filter;
}

// What a refusal looks like in each mode without notify.
void check_refused(const Verdict& verdict, SeccompAction action, const char* what) {
  INFO(what);
  if (action == SeccompAction::kill) {
    CHECK(verdict.signal == SIGSYS);
  } else {
    CHECK(verdict.signal == 0);
    CHECK(verdict.err == kErrno);
  }
}

long raw_int80(long nr) {
  long ret;
  asm volatile("int $0x80" : "=a"(ret) : "a"(nr) : "memory");
  return ret < 0 && ret > -4096 ? (errno = static_cast<int>(-ret), -1) : ret;
}

const SeccompAction kModes[] = {SeccompAction::errno_, SeccompAction::kill, SeccompAction::log};

const char* mode_name(SeccompAction action) {
  return action == SeccompAction::kill ? "kill" : action == SeccompAction::log ? "log" : "errno";
}

// A run under a notify filter: the child hands its listener over a socket, as the jail's
// command child does, and the parent answers through seccomp::Listener.
struct Notified {
  Verdict verdict;
  pid_t pid = 0;
  std::vector<seccomp::Violation> violations;
  uint64_t dropped = 0;
  int kill_events = 0;
};

Notified run_notified(plan::SeccompSpec spec, const std::function<long()>& call) {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  spec.notify = true;
  spec.sync_fd = sv[1];
  auto filter = compiled(spec);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int listener = -1;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seccomp::install(filter, &listener) != 0) ::_exit(250);
    jail::Msg msg;
    msg.type = jail::MsgType::listener;
    if (jail::send_msg(sv[1], msg, listener) != 0) ::_exit(250);
    long rc = call();
    ::_exit(rc >= 0 ? 0 : (errno > 0 && errno < 250 ? errno : 251));
  }
  ::close(sv[1]);
  auto received = jail::recv_msg(sv[0]);
  ::close(sv[0]);
  REQUIRE(received.has_value());
  REQUIRE(received->has_value());
  REQUIRE((*received)->fd.valid());
  seccomp::Listener listener(std::move((*received)->fd), spec.default_action, spec.errno_value);
  Notified out;
  out.pid = pid;
  int status = 0;
  while (true) {
    pollfd pfd{listener.fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 20) > 0) {
      auto event = listener.handle_one();
      REQUIRE(event.has_value());
      if (*event == seccomp::Listener::Event::kill_jail) {
        ++out.kill_events;
        ::kill(pid, SIGKILL);
      }
    }
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    REQUIRE(done >= 0);
    if (done == pid) break;
  }
  REQUIRE_FALSE((WIFEXITED(status) && WEXITSTATUS(status) == 250));
  out.verdict = WIFSIGNALED(status) ? Verdict{0, WTERMSIG(status)} : Verdict{WEXITSTATUS(status), 0};
  out.violations = listener.violations();
  out.dropped = listener.dropped();
  return out;
}

}  // namespace

TEST_CASE("seccomp sets: every member is a known call or set, nothing always-denied is in one") {
  std::set<std::string> denied;
  for (const auto& call : syscalls::always_denied()) denied.emplace(call.name);
  for (const auto& set : syscalls::sets()) {
    CHECK(set.name.starts_with('@'));
    CHECK(syscalls::find_set(set.name) == &set);
    for (auto member : set.members) {
      INFO(set.name, " ", member);
      if (member.starts_with('@'))
        CHECK(syscalls::find_set(member) != nullptr);
      else
        CHECK(syscalls::is_syscall_name(member));
      CHECK_FALSE(denied.contains(std::string(member)));
    }
  }
  for (const auto& call : syscalls::always_denied()) CHECK(syscalls::is_syscall_name(call.name));
  CHECK_FALSE(syscalls::is_syscall_name("no_such_call"));
  CHECK(syscalls::find_set("@nope") == nullptr);
  auto names = syscalls::set_names();
  CHECK(std::find(names.begin(), names.end(), "@network") != names.end());

  auto all = syscalls::expand("@default");
  CHECK(std::is_sorted(all.begin(), all.end()));
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  CHECK(all.size() > 250);
  for (const char* needed : {"execve", "openat", "mmap", "futex", "clone", "wait4", "socket", "epoll_wait", "getrandom"})
    CHECK(std::binary_search(all.begin(), all.end(), needed));
  for (const char* absent : {"sync", "mbind", "kcmp", "pidfd_getfd", "syslog", "reboot", "sethostname"})
    CHECK_FALSE(std::binary_search(all.begin(), all.end(), absent));
  CHECK(syscalls::expand("@numa").size() == 5);
}

TEST_CASE("seccomp complement32: disjoint patterns matching exactly the other values") {
  std::mt19937 random(42);
  std::vector<std::vector<uint32_t>> cases = {{}, {0}, {0xffffffff}, {TIOCSTI, TIOCLINUX}, {0, 8, 0x20000, 0x20008, 0xffffffff}};
  for (int i = 0; i < 20; ++i) {
    std::vector<uint32_t> values;
    for (int j = 0; j < 1 + i % 7; ++j) values.push_back(random() % (i % 2 ? 64 : 0xffffffffu));
    cases.push_back(values);
  }
  for (const auto& values : cases) {
    auto patterns = seccomp::detail::complement32(values);
    CHECK(patterns.size() <= 32 * std::max<size_t>(values.size(), 1));
    std::vector<uint32_t> probes(values.begin(), values.end());
    for (uint32_t v : values)
      for (int delta : {-2, -1, 1, 2}) probes.push_back(v + static_cast<uint32_t>(delta));
    for (int j = 0; j < 2000; ++j) probes.push_back(static_cast<uint32_t>(random()));
    for (uint32_t x : probes) {
      int matches = 0;
      for (const auto& p : patterns) matches += (x & p.mask) == p.value;
      bool excluded = std::find(values.begin(), values.end(), x) != values.end();
      INFO("x=", x);
      CHECK(matches == (excluded ? 0 : 1));
    }
  }
}

TEST_CASE("seccomp PFC starts with the architecture check") {
  auto pfc = seccomp::export_pfc(spec_with(SeccompAction::errno_));
  REQUIRE(pfc.has_value());
  std::string first;
  for (const auto& line : split(*pfc, '\n'))
    if (!line.empty() && line[0] != '#') {
      first = line;
      break;
    }
  CHECK(first == "if ($arch == " + std::to_string(AUDIT_ARCH_X86_64) + ")");
  CHECK(pfc->find("invalid architecture action") != std::string::npos);
}

TEST_CASE("seccomp compile: bad specs are errors that name the entry") {
  auto error_of = [](plan::SeccompSpec spec) {
    auto filter = seccomp::compile(spec);
    REQUIRE_FALSE(filter.has_value());
    CHECK(filter.error().code == EINVAL);
    return filter.error().what();
  };
  CHECK(error_of(spec_with(SeccompAction::errno_, {"@default", "@nope"})).find("\"@nope\"") != std::string::npos);
  CHECK(error_of(spec_with(SeccompAction::errno_, {"no_such_call"})).find("seccomp.allow") != std::string::npos);
  auto spec = spec_with(SeccompAction::errno_);
  spec.deny = {"execve"};
  CHECK(error_of(spec).find("the jail needs it") != std::string::npos);
  spec.deny = {"@process"};  // through a set, the jail's own calls simply stay
  CHECK(seccomp::compile(spec).has_value());
  spec = spec_with(SeccompAction::errno_);
  spec.errno_value = 0;  // "refused" calls would return success
  CHECK(error_of(spec).find("seccomp.errno") != std::string::npos);
}

TEST_CASE("seccomp compile: every built-in policy, every action, with and without notify") {
  for (const auto& builtin : policy::builtins()) {
    policy::Diagnostics diagnostics;
    auto loaded = policy::load(builtin.name, diagnostics);
    INFO(builtin.name);
    REQUIRE(loaded.has_value());
    for (bool notify : {false, true})
      for (auto action : {policy::SeccompAction::errno_, policy::SeccompAction::kill, policy::SeccompAction::log}) {
        auto policy = loaded->policy;
        policy.seccomp.default_action = action;
        auto filter = seccomp::compile(plan::seccomp_spec(policy, notify));
        REQUIRE(filter.has_value());
        CHECK(filter->notify == notify);
        CHECK(filter->program.size() < 1024);
      }
  }
}

TEST_CASE("seccomp: always-denied calls are refused even when the policy allows them by name") {
  std::vector<std::string> allow = {"@default"};
  for (const auto& call : syscalls::always_denied()) allow.emplace_back(call.name);
  for (auto action : kModes) {
    CAPTURE(mode_name(action));
    auto filter = compiled(spec_with(action, allow));
    // Arguments that make each call fail harmlessly (EBADF, EFAULT, EINVAL) if it got through.
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_unshare, CLONE_NEWUSER); }), action, "unshare");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_setns, -1, 0); }), action, "setns");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_mount, nullptr, nullptr, nullptr, 0, nullptr); }),
                  action, "mount");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_chroot, nullptr); }), action, "chroot");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_bpf, -1, nullptr, 0); }), action, "bpf");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_keyctl, -1, 0, 0, 0, 0); }), action, "keyctl");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_userfaultfd, -1); }), action, "userfaultfd");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_io_uring_setup, 0, nullptr); }), action,
                  "io_uring_setup");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }),
                  action, "perf_event_open");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_ptrace, -1, 0, 0, 0); }), action, "ptrace");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_open_by_handle_at, -1, nullptr, 0); }), action,
                  "open_by_handle_at");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_kexec_load, 0, 0, nullptr, -1); }), action,
                  "kexec_load");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_init_module, nullptr, 0, nullptr); }), action,
                  "init_module");
  }
}

TEST_CASE("seccomp: argument checks (clone, clone3, ioctl, personality, seccomp, socket)") {
  for (auto action : kModes) {
    CAPTURE(mode_name(action));
    auto filter = compiled(spec_with(action));
    auto high = [](uint64_t low) { return low | (uint64_t{1} << 32); };  // the kernel ignores these bits

    check_refused(run_filtered(filter, [] { return ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0); }),
                  action, "clone(CLONE_NEWUSER)");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_clone, CLONE_NEWNET, 0, 0, 0, 0); }), action,
                  "clone(CLONE_NEWNET)");
    CHECK(run_filtered(filter, [] {
            long pid = ::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
            if (pid == 0) ::_exit(0);
            return pid < 0 ? pid : ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
          }).allowed());
    CHECK(run_filtered(filter, [] { return ::syscall(SYS_clone3, nullptr, 0); }).err == ENOSYS);

    check_refused(run_filtered(filter, [] { return ::syscall(SYS_ioctl, 0, TIOCSTI, "x"); }), action, "TIOCSTI");
    check_refused(run_filtered(filter, [&] { return ::syscall(SYS_ioctl, 0, high(TIOCSTI), "x"); }), action,
                  "TIOCSTI with high bits");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_ioctl, 0, TIOCLINUX, "x"); }), action, "TIOCLINUX");
    CHECK(run_filtered(filter, [] {
            int fds[2], n = 0;
            if (::pipe(fds) != 0) return -1L;
            return static_cast<long>(::ioctl(fds[0], FIONREAD, &n));
          }).allowed());

    check_refused(run_filtered(filter, [] { return ::syscall(SYS_personality, ADDR_NO_RANDOMIZE); }), action,
                  "personality(ADDR_NO_RANDOMIZE)");
    check_refused(run_filtered(filter, [] { return ::syscall(SYS_personality, READ_IMPLIES_EXEC); }), action,
                  "personality(READ_IMPLIES_EXEC)");
    CHECK(run_filtered(filter, [] { return ::syscall(SYS_personality, 0xffffffffUL); }).allowed());
    CHECK(run_filtered(filter, [] { return ::syscall(SYS_personality, PER_LINUX); }).allowed());

    check_refused(run_filtered(filter, [] { return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                                                             SECCOMP_FILTER_FLAG_NEW_LISTENER, nullptr); }),
                  action, "seccomp(NEW_LISTENER)");
    CHECK(run_filtered(filter, [] { return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, nullptr); }).err ==
          EFAULT);

    // network.mode = none: AF_UNIX only.
    CHECK(run_filtered(filter, [] { return static_cast<long>(::socket(AF_UNIX, SOCK_STREAM, 0)); }).allowed());
    CHECK(run_filtered(filter, [&] { return ::syscall(SYS_socket, high(AF_UNIX), SOCK_STREAM, 0); }).allowed());
    for (int family : {AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_VSOCK, AF_ALG, AF_KEY}) {
      CAPTURE(family);
      check_refused(run_filtered(filter, [&] { return static_cast<long>(::socket(family, SOCK_DGRAM, 0)); }), action,
                    "socket family");
      check_refused(run_filtered(filter, [&] { return ::syscall(SYS_socket, high(family), SOCK_DGRAM, 0); }), action,
                    "socket family with high bits");
    }
    check_refused(run_filtered(filter, [] {
                    int sv[2];
                    return static_cast<long>(::socketpair(AF_INET, SOCK_STREAM, 0, sv));
                  }),
                  action, "socketpair(AF_INET)");
  }
}

// Setuid and setgid bits (rules.cc, kModeSetters). The path's directory does not exist and fd
// -1 is not open, so a call the filter lets through fails in the kernel (ENOENT, EBADF) and
// changes nothing; a refused one gets the filter's errno, or SIGSYS.
namespace {

constexpr const char* kMissing = "/nonexistent-agentjail/x";
constexpr uint64_t kKernelTmpfile = 020000000;  // the kernel's __O_TMPFILE, without O_DIRECTORY
#ifndef SYS_fchmodat2
constexpr long SYS_fchmodat2 = 452;  // glibc 2.36's headers predate it (Linux 6.6)
#endif

struct ModeCall {
  const char* what;
  std::function<long(uint64_t mode)> call;
  int kernel_errno;  // what the kernel answers when the filter lets the call through
};

std::vector<ModeCall> mode_calls() {
  // fchmodat2 needs Linux 6.6: an older kernel answers ENOSYS to what the filter allows.
  errno = 0;
  int fchmodat2_errno = ::syscall(SYS_fchmodat2, AT_FDCWD, kMissing, 0755, 0) < 0 ? errno : 0;
  return {
      {"chmod", [](uint64_t mode) { return ::syscall(SYS_chmod, kMissing, mode); }, ENOENT},
      {"fchmod", [](uint64_t mode) { return ::syscall(SYS_fchmod, -1, mode); }, EBADF},
      {"fchmodat", [](uint64_t mode) { return ::syscall(SYS_fchmodat, AT_FDCWD, kMissing, mode); }, ENOENT},
      {"fchmodat2", [](uint64_t mode) { return ::syscall(SYS_fchmodat2, AT_FDCWD, kMissing, mode, 0); },
       fchmodat2_errno},
      {"creat", [](uint64_t mode) { return ::syscall(SYS_creat, kMissing, mode); }, ENOENT},
      {"mknod", [](uint64_t mode) { return ::syscall(SYS_mknod, kMissing, mode | S_IFREG, 0); }, ENOENT},
      {"mknodat", [](uint64_t mode) { return ::syscall(SYS_mknodat, AT_FDCWD, kMissing, mode | S_IFREG, 0); },
       ENOENT},
      {"open(O_CREAT)", [](uint64_t mode) { return ::syscall(SYS_open, kMissing, O_CREAT | O_WRONLY, mode); },
       ENOENT},
      {"openat(O_CREAT)",
       [](uint64_t mode) { return ::syscall(SYS_openat, AT_FDCWD, kMissing, O_CREAT | O_EXCL | O_WRONLY, mode); },
       ENOENT},
      {"open(O_TMPFILE)",
       [](uint64_t mode) { return ::syscall(SYS_open, "/nonexistent-agentjail", O_TMPFILE | O_RDWR, mode); }, ENOENT},
      {"openat(O_TMPFILE)",
       [](uint64_t mode) {
         return ::syscall(SYS_openat, AT_FDCWD, "/nonexistent-agentjail", O_TMPFILE | O_RDWR, mode);
       },
       ENOENT},
      {"open(O_CREAT | 1<<32)",
       [](uint64_t mode) { return ::syscall(SYS_open, kMissing, O_CREAT | O_WRONLY | (uint64_t{1} << 32), mode); },
       ENOENT},
  };
}

void check_kernel_answered(const Verdict& verdict, int kernel_errno, const char* what) {
  INFO(what);
  CHECK(verdict.signal == 0);
  CHECK(verdict.err == kernel_errno);
}

}  // namespace

TEST_CASE("seccomp: argument checks (setuid and setgid bits: chmod, fchmod(at,at2), creat, mknod(at), open(at))") {
  const uint64_t high = uint64_t{1} << 32;  // the kernel ignores the upper half of these arguments
  for (auto action : kModes) {
    CAPTURE(mode_name(action));
    auto filter = compiled(spec_with(action));
    for (const auto& call : mode_calls()) {
      CAPTURE(call.what);
      for (uint64_t mode : {uint64_t{04755}, uint64_t{02755}, uint64_t{06755}, uint64_t{04000}, uint64_t{02000},
                            uint64_t{07777}, 04755 | high, 02644 | (uint64_t{0xffffffff} << 32)}) {
        CAPTURE(mode);
        check_refused(run_filtered(filter, [&] { return call.call(mode); }), action, "set-id mode");
      }
      for (uint64_t mode : {uint64_t{0}, uint64_t{0644}, uint64_t{0755}, uint64_t{01777}, 0755 | high,
                            0755 | (uint64_t{S_ISUID | S_ISGID} << 32)}) {
        CAPTURE(mode);
        check_kernel_answered(run_filtered(filter, [&] { return call.call(mode); }), call.kernel_errno,
                              "mode without set-id bits");
      }
    }
    // Without O_CREAT or O_TMPFILE in the low 32 bits of the flags, open ignores the mode.
    for (uint64_t flags : {uint64_t{O_RDONLY}, uint64_t{O_WRONLY | O_TRUNC}, uint64_t{O_DIRECTORY},
                           O_WRONLY | (uint64_t{O_CREAT} << 32), O_RDWR | (kKernelTmpfile << 32)}) {
      CAPTURE(flags);
      check_kernel_answered(run_filtered(filter, [&] { return ::syscall(SYS_open, kMissing, flags, 06755); }), ENOENT,
                            "open without a creating flag");
      check_kernel_answered(
          run_filtered(filter, [&] { return ::syscall(SYS_openat, AT_FDCWD, kMissing, flags, 06755); }), ENOENT,
          "openat without a creating flag");
    }
    // openat2's flags and mode are in a struct the filter cannot read: ENOSYS, so callers fall
    // back to openat, even for a policy that names it.
    CHECK(run_filtered(filter, [] { return ::syscall(SYS_openat2, AT_FDCWD, kMissing, nullptr, 0); }).err == ENOSYS);
    auto named = compiled(spec_with(action, {"@default", "openat2"}));
    CHECK(run_filtered(named, [] { return ::syscall(SYS_openat2, AT_FDCWD, kMissing, nullptr, 0); }).err == ENOSYS);
    // __O_TMPFILE alone (the kernel then says EINVAL) is refused all the same.
    check_refused(
        run_filtered(filter, [&] { return ::syscall(SYS_openat, AT_FDCWD, "/", kKernelTmpfile | O_RDWR, 04700); }),
        action, "openat(__O_TMPFILE)");
  }
}

TEST_CASE("seccomp: open and the mode setters are refused exactly when the low 32 bits would set a set-id bit") {
  auto filter = compiled(spec_with(SeccompAction::errno_));
  std::vector<uint64_t> modes, flags;
  for (uint64_t low : {0x0ULL, 0644ULL, 0755ULL, 01777ULL, 02000ULL, 04000ULL, 06000ULL, 06755ULL, 07777ULL, 0xffffULL,
                       0xffffffffULL, 0xfffff3ffULL})
    for (uint64_t upper : {uint64_t{0}, uint64_t{1} << 32, uint64_t{S_ISUID} << 32, uint64_t{0xffffffff} << 32})
      modes.push_back(upper | low);
  for (uint64_t low : {uint64_t{O_RDONLY}, uint64_t{O_WRONLY}, uint64_t{O_CREAT | O_WRONLY}, uint64_t{O_CREAT | O_EXCL},
                       uint64_t{O_TMPFILE | O_RDWR}, kKernelTmpfile | O_RDWR, uint64_t{O_DIRECTORY},
                       O_CREAT | kKernelTmpfile, uint64_t{0xffffffff},
                       uint64_t{0xffffffff} & ~(O_CREAT | kKernelTmpfile)})
    for (uint64_t upper : {uint64_t{0}, uint64_t{1} << 32, uint64_t{O_CREAT} << 32, uint64_t{0xffffffff} << 32})
      flags.push_back(upper | low);
  auto set_id = [](uint64_t mode) { return (static_cast<uint32_t>(mode) & (S_ISUID | S_ISGID)) != 0; };
  auto creating = [](uint64_t f) { return (static_cast<uint32_t>(f) & (O_CREAT | kKernelTmpfile)) != 0; };
  // One child tries them all and exits with the number of the first wrong verdict (mod 200).
  auto verdict = [](long rc, bool refused) { return (rc == -1 && errno == kErrno) == refused; };
  const auto calls = mode_calls();
  auto wrong = run_filtered(filter, [&] {
    int n = 0;
    auto fail = [&] {
      errno = n % 200 + 1;
      return -1L;
    };
    for (uint64_t mode : modes) {
      for (const auto& call : calls) {
        ++n;
        if (!verdict(call.call(mode), set_id(mode))) return fail();
      }
      for (uint64_t f : flags) {
        ++n;
        if (!verdict(::syscall(SYS_open, kMissing, f, mode), creating(f) && set_id(mode))) return fail();
        ++n;
        if (!verdict(::syscall(SYS_openat, AT_FDCWD, kMissing, f, mode), creating(f) && set_id(mode))) return fail();
      }
    }
    return 0L;
  });
  CHECK_MESSAGE(wrong.allowed(), "wrong verdict for call #", wrong.err - 1, " (mod 200)");
}

TEST_CASE("seccomp: ordinary file modes still work; a refused set-id bit is not set") {
  for (auto action : kModes) {
    CAPTURE(mode_name(action));
    auto filter = compiled(spec_with(action));
    char dir[] = "/tmp/aj-seccomp-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string base = dir;
    const std::string file = base + "/file", made = base + "/made", fifo = base + "/fifo", sub = base + "/sub";
    auto ordinary = run_filtered(filter, [&] {
      ::umask(022);
      int fd = static_cast<int>(::syscall(SYS_openat, AT_FDCWD, file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
      if (fd < 0) return -1L;
      if (::fchmod(fd, 0600) != 0 || ::syscall(SYS_chmod, file.c_str(), 0755) != 0) return -1L;
      if (::fchmodat(AT_FDCWD, file.c_str(), 0750, 0) != 0) return -1L;
      if (::syscall(SYS_fchmodat2, AT_FDCWD, file.c_str(), 0755, 0) != 0 && errno != ENOSYS) return -1L;
      ::close(fd);
      fd = static_cast<int>(::syscall(SYS_creat, made.c_str(), 0700));
      if (fd < 0) return -1L;
      ::close(fd);
      fd = static_cast<int>(::syscall(SYS_open, base.c_str(), O_TMPFILE | O_RDWR, 0600));
      if (fd < 0 && errno != EOPNOTSUPP) return -1L;  // a filesystem without O_TMPFILE
      if (fd >= 0) ::close(fd);
      if (::mkdir(sub.c_str(), 0755) != 0) return -1L;
      return static_cast<long>(::mknod(fifo.c_str(), S_IFIFO | 0644, 0));
    });
    CHECK(ordinary.allowed());
    struct stat st {};
    CHECK((::stat(file.c_str(), &st) == 0 && (st.st_mode & 07777) == 0755));
    CHECK((::stat(made.c_str(), &st) == 0 && (st.st_mode & 07777) == 0700));
    CHECK((::stat(sub.c_str(), &st) == 0 && S_ISDIR(st.st_mode)));
    CHECK((::stat(fifo.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)));

    // Each refusal on a real file: the kernel would have set the bit (the file is ours).
    const std::string fresh = base + "/fresh";
    const std::pair<const char*, std::function<long()>> attempts[] = {
        {"chmod", [&] { return ::syscall(SYS_chmod, file.c_str(), 04755); }},
        {"fchmodat", [&] { return ::syscall(SYS_fchmodat, AT_FDCWD, file.c_str(), 02755); }},
        {"fchmodat2", [&] { return ::syscall(SYS_fchmodat2, AT_FDCWD, file.c_str(), 06755, 0); }},
        {"fchmod", [&] {
           int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
           return fd < 0 ? -1L : ::syscall(SYS_fchmod, fd, 04755);
         }},
        {"openat(O_CREAT)", [&] { return ::syscall(SYS_openat, AT_FDCWD, fresh.c_str(), O_CREAT | O_WRONLY, 04755); }},
        {"creat", [&] { return ::syscall(SYS_creat, fresh.c_str(), 02755); }},
        {"mknod", [&] { return ::syscall(SYS_mknod, fresh.c_str(), S_IFREG | 04755, 0); }},
    };
    for (const auto& [what, attempt] : attempts) {
      check_refused(run_filtered(filter, attempt), action, what);
      CHECK((::stat(file.c_str(), &st) == 0 && (st.st_mode & 07777) == 0755));
      CHECK(::access(fresh.c_str(), F_OK) != 0);
    }
    for (const auto& path : {file, made, fifo, fresh}) ::unlink(path.c_str());
    ::rmdir(sub.c_str());
    ::rmdir(dir);
  }
}

TEST_CASE("seccomp: every ioctl request near TIOCSTI gets the same verdict with or without upper bits") {
  // The 0x54xx block has patterns of its own at the front of the filter (rules.cc); whatever
  // their order, only TIOCSTI and TIOCLINUX may be refused. On fd -1 an allowed request fails
  // with EBADF in the kernel, a refused one with the filter's errno.
  auto filter = compiled(spec_with(SeccompAction::errno_));
  std::vector<uint64_t> requests;
  for (uint64_t low = 0x5300; low <= 0x55ff; ++low) requests.push_back(low);
  for (uint64_t low : {0x0ULL, 0x80045430ULL, 0x40045431ULL, 0xc0045400ULL, 0xffffffffULL}) requests.push_back(low);
  for (uint64_t low : std::vector<uint64_t>(requests))
    for (uint64_t upper : {uint64_t{1} << 32, uint64_t{0xffffffff} << 32}) requests.push_back(upper | low);
  // One child tries them all and exits with the index of the first wrong verdict, plus one.
  auto wrong = run_filtered(filter, [&] {
    for (size_t i = 0; i < requests.size(); ++i) {
      const uint32_t low = static_cast<uint32_t>(requests[i]);
      const bool forbidden = low == TIOCSTI || low == TIOCLINUX;
      long rc = ::syscall(SYS_ioctl, -1, requests[i], 0);
      if (rc != -1 || errno != (forbidden ? kErrno : EBADF)) {
        errno = static_cast<int>(i % 200 + 1);
        return -1L;
      }
    }
    return 0L;
  });
  CHECK_MESSAGE(wrong.allowed(), "wrong verdict for request #", wrong.err - 1, " (mod 200)");
}

TEST_CASE("seccomp: socket families follow network.mode") {
  auto spec = spec_with(SeccompAction::errno_);
  spec.network = plan::NetworkMode::loopback;
  auto filter = compiled(spec);
  for (int family : {AF_UNIX, AF_INET, AF_INET6}) {
    CAPTURE(family);
    CHECK(run_filtered(filter, [&] { return static_cast<long>(::socket(family, SOCK_STREAM, 0)); }).allowed());
  }
  CHECK(run_filtered(filter, [] { return static_cast<long>(::socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)); })
            .allowed());
  for (int protocol : {NETLINK_AUDIT, NETLINK_KOBJECT_UEVENT, NETLINK_SOCK_DIAG, NETLINK_NETFILTER}) {
    CAPTURE(protocol);
    CHECK(run_filtered(filter, [&] { return static_cast<long>(::socket(AF_NETLINK, SOCK_RAW, protocol)); }).err ==
          kErrno);
  }
  for (int family : {AF_PACKET, AF_VSOCK, AF_ALG, AF_KEY, AF_BLUETOOTH}) {
    CAPTURE(family);
    CHECK(run_filtered(filter, [&] { return static_cast<long>(::socket(family, SOCK_RAW, 0)); }).err == kErrno);
  }
}

TEST_CASE("seccomp: foreign architectures are refused (x32 numbers, int 0x80)") {
  for (auto action : kModes) {
    CAPTURE(mode_name(action));
    auto filter = compiled(spec_with(action));
    check_refused(run_filtered(filter, [] { return ::syscall(0x40000000 | SYS_getpid); }), action, "x32 getpid");
    check_refused(run_filtered(filter, [] { return raw_int80(20); }), action, "i386 getpid");
  }
}

TEST_CASE("seccomp: deny wins over allow; sendmsg stays open on the sync fd only") {
  auto spec = spec_with(SeccompAction::errno_);
  spec.deny = {"mkdir", "mkdirat", "@network"};
  spec.sync_fd = 1000;
  auto filter = compiled(spec);
  CHECK(run_filtered(filter, [] { return static_cast<long>(::mkdir("/nonexistent/x", 0700)); }).err == kErrno);
  CHECK(run_filtered(filter, [] { return static_cast<long>(::socket(AF_UNIX, SOCK_STREAM, 0)); }).err == kErrno);
  CHECK(run_filtered(filter, [] { return static_cast<long>(::sendmsg(1000, nullptr, 0)); }).err == EBADF);
  CHECK(run_filtered(filter, [] { return static_cast<long>(::sendmsg(1001, nullptr, 0)); }).err == kErrno);
  CHECK(run_filtered(filter, [] { return ::syscall(SYS_sendmsg, 1000 | (uint64_t{1} << 32), nullptr, 0); }).err ==
        EBADF);
  CHECK(run_filtered(filter, [] { return ::syscall(SYS_getppid); }).allowed());
}

TEST_CASE("seccomp: log lets calls outside the allowlist run, but not the always-denied ones") {
  auto spec = spec_with(SeccompAction::log, {"@default"});
  spec.deny = {"getppid"};
  auto filter = compiled(spec);
  CHECK(run_filtered(filter, [] { return ::syscall(SYS_getppid); }).allowed());
  CHECK(run_filtered(filter, [] { return ::syscall(SYS_unshare, CLONE_NEWUSER); }).err == kErrno);
}

TEST_CASE("seccomp: an allowlist without @default still lets the jail start the command") {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer runtime in the forked child needs calls (mmap, ...) this allowlist refuses.
  SKIP_TEST("under AddressSanitizer");
#endif
  auto filter = compiled(spec_with(SeccompAction::errno_, {"getppid"}));
  CHECK(run_filtered(filter, [] { return ::syscall(SYS_getpid); }).err == kErrno);
  CHECK(run_filtered(filter, [] { return ::syscall(SYS_getppid); }).allowed());
  // execve is allowed: a missing file gets the kernel's ENOENT, not the filter's errno.
  CHECK(run_filtered(filter, [] {
          char* argv[] = {nullptr};
          return static_cast<long>(::execve("/nonexistent", argv, argv));
        }).err == ENOENT);
}

TEST_CASE("seccomp cache: same spec, same filter, one compile") {
  auto spec = spec_with(SeccompAction::errno_);
  auto other = spec;
  other.deny = {"mkdir"};
  CHECK(seccomp::spec_digest(spec) == seccomp::spec_digest(spec_with(SeccompAction::errno_)));
  CHECK(seccomp::spec_digest(spec) != seccomp::spec_digest(other));
  auto shifted = spec;
  shifted.allow = {"@default", "a"};
  auto joined = spec;
  joined.allow = {"@defaulta"};
  CHECK(seccomp::spec_digest(shifted) != seccomp::spec_digest(joined));

  seccomp::FilterCache cache;
  auto first = cache.get(spec);
  auto second = cache.get(spec);
  auto third = cache.get(other);
  REQUIRE((first && second && third));
  CHECK(cache.misses() == 2);
  CHECK(cache.hits() == 1);
  CHECK(first->program.size() == second->program.size());
  CHECK(std::memcmp(first->program.data(), second->program.data(), first->program.size() * sizeof(sock_filter)) == 0);
  CHECK(first->program.size() != third->program.size());
  CHECK_FALSE(cache.get(spec_with(SeccompAction::errno_, {"@nope"})).has_value());
}

TEST_CASE("seccomp precompiled: the build's filters are what compile() makes now") {
  // filtergen ran on this same code and libseccomp; a stale or corrupt table fails here.
  const auto table = seccomp::precompiled_filters();
  REQUIRE_FALSE(table.empty());
  const scmp_version* runtime = seccomp_version();
  // A dynamically linked build whose libseccomp was updated since compiles instead.
  const bool usable = seccomp::precompiled_with_libseccomp() ==
                      std::to_string(runtime->major) + "." + std::to_string(runtime->minor) + "." +
                          std::to_string(runtime->micro);
  size_t matched = 0;
  for (const auto& builtin : policy::builtins()) {
    policy::Diagnostics diagnostics;
    auto loaded = policy::load(builtin.name, diagnostics);
    REQUIRE(loaded.has_value());
    for (auto mode : {policy::NetworkMode::none, policy::NetworkMode::loopback, policy::NetworkMode::host})
      for (bool notify : {false, true}) {
        INFO(builtin.name, " network ", static_cast<int>(mode), " notify ", notify);
        auto policy = loaded->policy;
        policy.network.mode = mode;
        const auto spec = plan::seccomp_spec(policy, notify);
        bool precompiled = false;
        auto loaded_filter = seccomp::filter_for(spec, &precompiled);
        auto compiled = seccomp::compile(spec);
        REQUIRE((loaded_filter && compiled));
        CHECK(precompiled == usable);
        CHECK(loaded_filter->notify == compiled->notify);
        REQUIRE(loaded_filter->program.size() == compiled->program.size());
        CHECK(std::memcmp(loaded_filter->program.data(), compiled->program.data(),
                          compiled->program.size() * sizeof(sock_filter)) == 0);
        ++matched;
      }
  }
  CHECK(matched >= table.size());
  // Anything else is compiled on the spot.
  bool precompiled = true;
  auto custom = seccomp::filter_for(spec_with(SeccompAction::errno_, {"@default", "mkdir"}), &precompiled);
  REQUIRE(custom.has_value());
  CHECK_FALSE(precompiled);
}

TEST_CASE("seccomp names: foreign ABIs and argument counts") {
  CHECK(syscalls::syscall_name(AUDIT_ARCH_X86_64, SYS_socket) == "socket");
  CHECK(syscalls::syscall_name(AUDIT_ARCH_X86_64, 0x40000000 | SYS_socket) == "x32:socket");
  CHECK(syscalls::syscall_name(AUDIT_ARCH_I386, 102) == "i386:socketcall");
  CHECK(syscalls::syscall_name(AUDIT_ARCH_X86_64, 999) == "unknown");
  CHECK(syscalls::syscall_arg_count("socket") == 3);
  CHECK(syscalls::syscall_arg_count("getppid") == 0);
  CHECK(syscalls::syscall_arg_count("mmap") == 6);
  CHECK_FALSE(syscalls::syscall_arg_count("i386:socketcall"));
  CHECK_FALSE(syscalls::syscall_arg_count("unknown"));
  // Every call a set names or the filter treats specially has a known count, so its
  // violations list exactly its arguments.
  for (const auto& set : syscalls::sets())
    for (auto member : set.members)
      if (!member.starts_with('@')) {
        INFO(member);
        CHECK(syscalls::syscall_arg_count(member).has_value());
      }
  for (auto calls : {syscalls::always_denied(), syscalls::argument_checked(), syscalls::always_allowed(), syscalls::enosys()})
    for (const auto& call : calls) {
      INFO(call.name);
      CHECK(syscalls::syscall_arg_count(call.name).has_value());
    }
}

TEST_CASE("seccomp notify: errno answers, records name, args, pid; folds repeats") {
  auto spec = spec_with(SeccompAction::errno_);
  spec.deny = {"mkdir"};
  auto run = run_notified(spec, [] {
    ::mkdir("/nonexistent/a", 0700);
    ::mkdir("/nonexistent/a", 0700);
    ::syscall(SYS_unshare, CLONE_NEWUSER);  // always denied: recorded too
    return static_cast<long>(::mkdir("/nonexistent/b", 0700));
  });
  CHECK(run.verdict.err == kErrno);
  REQUIRE(run.violations.size() == 2);
  const auto& mkdir = run.violations[0];
  CHECK(mkdir.syscall == "mkdir");
  CHECK(mkdir.nr == SYS_mkdir);
  CHECK(mkdir.args.size() == 2);
  CHECK(mkdir.args[1] == 0700);
  CHECK(mkdir.pid == run.pid);  // no pid namespace here: the jail pid is the host pid
  CHECK(mkdir.action == "errno");
  CHECK(mkdir.count == 3);
  CHECK(run.violations[1].syscall == "unshare");
  CHECK(run.violations[1].args == std::vector<uint64_t>{CLONE_NEWUSER});
  CHECK(run.dropped == 0);
}

TEST_CASE("seccomp notify: foreign architectures are named as such") {
  auto run = run_notified(spec_with(SeccompAction::errno_), [] { return raw_int80(20); });
  CHECK(run.verdict.err == kErrno);
  REQUIRE(run.violations.size() == 1);
  CHECK(run.violations[0].syscall == "i386:getpid");
}

TEST_CASE("seccomp notify: kill leaves the call blocked and asks for the jail to be killed") {
  auto spec = spec_with(SeccompAction::kill);
  spec.deny = {"getppid"};
  auto run = run_notified(spec, [] { return ::syscall(SYS_getppid); });
  CHECK(run.verdict.signal == SIGKILL);
  CHECK(run.kill_events == 1);
  REQUIRE(run.violations.size() == 1);
  CHECK(run.violations[0].syscall == "getppid");
  CHECK(run.violations[0].action == "kill");
}

TEST_CASE("seccomp notify: log lets the call run and records it") {
  char dir[] = "/tmp/aj-seccomp-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/made";
  auto spec = spec_with(SeccompAction::log);
  spec.deny = {"mkdir"};
  auto run = run_notified(spec, [&] { return static_cast<long>(::mkdir(path.c_str(), 0700)); });
  CHECK(run.verdict.allowed());
  struct stat st {};
  CHECK(::stat(path.c_str(), &st) == 0);
  ::rmdir(path.c_str());
  ::rmdir(dir);
  REQUIRE(run.violations.size() == 1);
  CHECK(run.violations[0].action == "log");
  // Always-denied calls never reach a "log" listener: the filter refuses them itself.
  run = run_notified(spec, [] { return ::syscall(SYS_unshare, CLONE_NEWUSER); });
  CHECK(run.verdict.err == kErrno);
  CHECK(run.violations.empty());
}

TEST_CASE("seccomp notify: the list is capped; the rest is counted") {
  const int distinct = static_cast<int>(seccomp::Listener::kMaxViolations) + 6;
  auto run = run_notified(spec_with(SeccompAction::errno_), [&] {
    for (int i = 0; i < distinct; ++i) ::syscall(600 + i);  // numbers no kernel has yet
    return 0L;
  });
  CHECK(run.verdict.allowed());
  CHECK(run.violations.size() == seccomp::Listener::kMaxViolations);
  CHECK(run.dropped == 6);
  CHECK(run.violations[0].syscall == "unknown");
  CHECK(run.violations[0].nr == 600);
  CHECK(run.violations[0].args.size() == 6);
}
