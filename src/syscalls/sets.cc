// The syscall sets. @default is an allowlist in the spirit of Docker's default profile, checked
// against what python3 (ssl, sqlite3, multiprocessing, asyncio, subprocess), node, bash, gcc
// and make actually call (strace -f). Everything not listed here is refused unless a policy
// names it; the calls in always_denied() are refused even then.
#include "syscalls/sets.h"

#include <seccomp.h>

#include <algorithm>
#include <array>
#include <set>

namespace aj::syscalls {
namespace {

using namespace std::string_view_literals;

// Reading and writing descriptors the process already has. ioctl is here because terminals,
// isatty() and FIONREAD need it; TIOCSTI and TIOCLINUX are refused whatever the policy says.
constexpr std::array kBasicIo = {
    "read"sv,     "write"sv,   "readv"sv,   "writev"sv,    "pread64"sv,  "pwrite64"sv,   "preadv"sv,
    "pwritev"sv,  "preadv2"sv, "pwritev2"sv, "lseek"sv,    "close"sv,    "close_range"sv, "dup"sv,
    "dup2"sv,     "dup3"sv,    "fcntl"sv,   "ioctl"sv,     "sendfile"sv, "splice"sv,     "tee"sv,
    "vmsplice"sv, "copy_file_range"sv,
};

// Paths and files. The jail's mount table decides what is visible and writable; these calls
// only work on what it shows. No call here may set a setuid or setgid bit (see
// argument_checked()). Left out: sync and syncfs (each flushes a filesystem of the host: syncfs
// on any file of a bind or of the jail's root flushes the host's filesystem it lives on, for
// every process of the host, and stalls the host's writers meanwhile), the handle-based
// opens (always refused), openat2 (ENOSYS, below) and fanotify (watches beyond the caller's
// own files).
constexpr std::array kFileSystem = {
    "open"sv,          "openat"sv,         "creat"sv,          "stat"sv,            "fstat"sv,
    "lstat"sv,         "newfstatat"sv,     "statx"sv,          "statfs"sv,
    "fstatfs"sv,       "access"sv,         "faccessat"sv,      "faccessat2"sv,      "chdir"sv,
    "fchdir"sv,        "getcwd"sv,         "mkdir"sv,          "mkdirat"sv,         "rmdir"sv,
    "rename"sv,        "renameat"sv,       "renameat2"sv,      "link"sv,            "linkat"sv,
    "unlink"sv,        "unlinkat"sv,       "symlink"sv,        "symlinkat"sv,       "readlink"sv,
    "readlinkat"sv,    "chmod"sv,          "fchmod"sv,         "fchmodat"sv,        "fchmodat2"sv,
    "truncate"sv,      "ftruncate"sv,      "fallocate"sv,      "fadvise64"sv,       "readahead"sv,
    "getdents"sv,      "getdents64"sv,     "flock"sv,          "fsync"sv,           "fdatasync"sv,
    "sync_file_range"sv,                    "umask"sv,          "utime"sv,           "utimes"sv,
    "utimensat"sv,     "futimesat"sv,      "mknod"sv,          "mknodat"sv,         "getxattr"sv,
    "lgetxattr"sv,     "fgetxattr"sv,      "listxattr"sv,      "llistxattr"sv,      "flistxattr"sv,
    "setxattr"sv,      "lsetxattr"sv,      "fsetxattr"sv,      "removexattr"sv,     "lremovexattr"sv,
    "fremovexattr"sv,  "inotify_init"sv,   "inotify_init1"sv,  "inotify_add_watch"sv,
    "inotify_rm_watch"sv,
};

// Changing a file's owner. Without CAP_CHOWN the kernel only lets a process give a file to
// itself or to one of its groups, but cp -p, tar and install call these and expect EPERM from
// the kernel, not a refusal in the report.
constexpr std::array kChown = {"chown"sv, "fchown"sv, "lchown"sv, "fchownat"sv};

// Waiting for descriptors: every event loop (asyncio, libuv, make -j) needs one of these.
constexpr std::array kIoEvent = {
    "poll"sv,       "ppoll"sv,     "select"sv,      "pselect6"sv,   "epoll_create"sv, "epoll_create1"sv,
    "epoll_ctl"sv,  "epoll_wait"sv, "epoll_pwait"sv, "epoll_pwait2"sv, "eventfd"sv,    "eventfd2"sv,
};

// Linux native AIO (libaio; databases). Not in @default: io_setup reserves its events from
// fs.aio-max-nr, one budget for the whole host that no namespace, cgroup or rlimit divides, so
// one jail could take it all and the host's own AIO users (root included) get EAGAIN until the
// jail ends. Programs that use it fall back to threads when it is refused (InnoDB, libaio's
// users, glibc's POSIX AIO never needs it). Not io_uring, which is always refused: it has been
// the source of many kernel exploits and bypasses seccomp for the operations it submits.
constexpr std::array kAio = {
    "io_setup"sv, "io_destroy"sv, "io_submit"sv, "io_cancel"sv, "io_getevents"sv, "io_pgetevents"sv,
};

// The address space: allocators, the dynamic loader, JITs (V8 needs mprotect), memfd-backed
// shared memory (multiprocessing, V8). mlock is bounded by RLIMIT_MEMLOCK. get_mempolicy only
// reads (libnuma probes it at start-up: ps, top). Left out: the NUMA calls that change
// placement (@numa; Docker gates them on CAP_SYS_NICE) and memfd_secret.
constexpr std::array kMemory = {
    "brk"sv,       "mmap"sv,      "munmap"sv,     "mprotect"sv,   "mremap"sv,        "madvise"sv,
    "mincore"sv,   "msync"sv,     "mlock"sv,      "mlock2"sv,     "munlock"sv,       "mlockall"sv,
    "munlockall"sv, "membarrier"sv, "memfd_create"sv, "pkey_alloc"sv, "pkey_free"sv, "pkey_mprotect"sv,
    "get_mempolicy"sv,
};

// Processes and threads: fork/exec/wait, ids, limits, scheduling, thread setup (futex, robust
// lists, rseq, TLS through arch_prctl). clone is allowed without CLONE_NEW* flags only;
// clone3 answers ENOSYS so libc falls back to clone. prctl is allowed whole, as Docker does:
// its dangerous options need capabilities the jail does not have. The pid namespace limits
// kill, prlimit64 and setpriority to processes of the jail.
constexpr std::array kProcess = {
    "fork"sv,           "vfork"sv,           "clone"sv,            "execve"sv,          "execveat"sv,
    "exit"sv,           "exit_group"sv,      "wait4"sv,            "waitid"sv,          "getpid"sv,
    "getppid"sv,        "gettid"sv,          "getpgid"sv,          "getpgrp"sv,         "setpgid"sv,
    "getsid"sv,         "setsid"sv,          "getuid"sv,           "geteuid"sv,         "getgid"sv,
    "getegid"sv,        "getresuid"sv,       "getresgid"sv,        "getgroups"sv,       "capget"sv,
    "capset"sv,         "prctl"sv,           "arch_prctl"sv,       "set_tid_address"sv, "set_robust_list"sv,
    "get_robust_list"sv, "rseq"sv,           "futex"sv,            "futex_waitv"sv,     "getrlimit"sv,
    "setrlimit"sv,      "prlimit64"sv,       "getrusage"sv,        "times"sv,           "getpriority"sv,
    "setpriority"sv,    "ioprio_get"sv,      "ioprio_set"sv,       "sched_yield"sv,     "sched_getaffinity"sv,
    "sched_setaffinity"sv, "sched_getparam"sv, "sched_setparam"sv, "sched_getscheduler"sv,
    "sched_setscheduler"sv, "sched_get_priority_max"sv, "sched_get_priority_min"sv,
    "sched_rr_get_interval"sv, "sched_getattr"sv, "sched_setattr"sv, "personality"sv, "uname"sv,
    "sysinfo"sv,        "getcpu"sv,          "getrandom"sv,        "pidfd_open"sv,      "restart_syscall"sv,
};

// Switching uid/gid. In the jail's user namespace only the jail's own ids are mapped and no
// capability is kept unless the policy says so, so these can only shuffle ids the process has.
constexpr std::array kSetuid = {
    "setuid"sv,    "setgid"sv,    "setreuid"sv, "setregid"sv, "setresuid"sv,
    "setresgid"sv, "setgroups"sv, "setfsuid"sv, "setfsgid"sv,
};

// Signals. kill and friends reach only processes of the jail's pid namespace.
constexpr std::array kSignal = {
    "rt_sigaction"sv, "rt_sigprocmask"sv, "rt_sigreturn"sv,  "rt_sigpending"sv,     "rt_sigsuspend"sv,
    "rt_sigtimedwait"sv, "rt_sigqueueinfo"sv, "rt_tgsigqueueinfo"sv, "sigaltstack"sv, "kill"sv,
    "tkill"sv,        "tgkill"sv,         "pause"sv,         "signalfd"sv,          "signalfd4"sv,
    "pidfd_send_signal"sv,
};

// Reading clocks, sleeping, timers. Setting the clock (settimeofday, clock_settime, adjtimex)
// needs CAP_SYS_TIME and is left out.
constexpr std::array kTime = {
    "clock_gettime"sv,  "clock_getres"sv,   "clock_nanosleep"sv, "nanosleep"sv,     "gettimeofday"sv,
    "time"sv,           "alarm"sv,          "getitimer"sv,       "setitimer"sv,     "timer_create"sv,
    "timer_settime"sv,  "timer_gettime"sv,  "timer_getoverrun"sv, "timer_delete"sv, "timerfd_create"sv,
    "timerfd_settime"sv, "timerfd_gettime"sv,
};

// Pipes and System V / POSIX IPC. The jail has its own IPC namespace, so these objects are
// private to it (multiprocessing's semaphores and queues use them).
constexpr std::array kIpc = {
    "pipe"sv,   "pipe2"sv,  "shmget"sv,   "shmat"sv,  "shmdt"sv,        "shmctl"sv,      "semget"sv,
    "semop"sv,  "semtimedop"sv, "semctl"sv, "msgget"sv, "msgsnd"sv,     "msgrcv"sv,      "msgctl"sv,
    "mq_open"sv, "mq_unlink"sv, "mq_timedsend"sv, "mq_timedreceive"sv, "mq_notify"sv, "mq_getsetattr"sv,
};

// Sockets. Which address families socket() and socketpair() may create follows network.mode
// (none: AF_UNIX only, which asyncio and multiprocessing need; loopback and host: also
// AF_INET, AF_INET6 and NETLINK_ROUTE), whatever this set says.
constexpr std::array kNetwork = {
    "socket"sv,   "socketpair"sv, "connect"sv,  "accept"sv,   "accept4"sv,  "bind"sv,
    "listen"sv,   "getsockname"sv, "getpeername"sv, "sendto"sv, "recvfrom"sv, "sendmsg"sv,
    "recvmsg"sv,  "sendmmsg"sv,   "recvmmsg"sv, "shutdown"sv, "setsockopt"sv, "getsockopt"sv,
};

// A process restricting itself further: Landlock rulesets and stacking another seccomp filter
// (Chromium, Firefox and minijail-based tools do). Both can only take rights away: the kernel
// applies the strictest verdict of all filters. A new filter with a user-notification listener
// is refused (see argument_checked()).
constexpr std::array kSandbox = {
    "landlock_create_ruleset"sv, "landlock_add_rule"sv, "landlock_restrict_self"sv, "seccomp"sv,
};

// Changing NUMA memory placement: only useful on multi-node machines; Docker allows it with
// CAP_SYS_NICE.
constexpr std::array kNuma = {
    "set_mempolicy"sv, "mbind"sv, "migrate_pages"sv, "move_pages"sv, "set_mempolicy_home_node"sv,
};

constexpr std::array kDefault = {
    "@basic-io"sv, "@file-system"sv, "@chown"sv, "@io-event"sv, "@memory"sv, "@process"sv,
    "@setuid"sv,   "@signal"sv,      "@time"sv,  "@ipc"sv,      "@network"sv, "@sandbox"sv,
};

constexpr std::array kSets = {
    SyscallSet{"@default", "what interpreters, compilers, shells and build tools need (every set below but @aio and @numa)",
               kDefault},
    SyscallSet{"@basic-io", "read, write, seek, close and duplicate descriptors; ioctl", kBasicIo},
    SyscallSet{"@file-system", "open, stat, create, rename, remove, link files and directories; xattrs; inotify",
               kFileSystem},
    SyscallSet{"@chown", "change the owner of files (the kernel still requires CAP_CHOWN for other owners)", kChown},
    SyscallSet{"@io-event", "poll, select, epoll, eventfd", kIoEvent},
    SyscallSet{"@aio", "Linux native asynchronous I/O (io_setup & co; not io_uring; not in @default: fs.aio-max-nr is one budget for the whole host)", kAio},
    SyscallSet{"@memory", "map, protect, advise and lock memory; memfd; protection keys", kMemory},
    SyscallSet{"@process", "fork, exec, wait, ids, limits, scheduling, threads and futexes", kProcess},
    SyscallSet{"@setuid", "change user and group ids (only to ids mapped in the jail)", kSetuid},
    SyscallSet{"@signal", "send, wait for and handle signals", kSignal},
    SyscallSet{"@time", "read clocks, sleep, timers and timerfds", kTime},
    SyscallSet{"@ipc", "pipes, System V and POSIX IPC (private to the jail's IPC namespace)", kIpc},
    SyscallSet{"@network", "sockets; the families allowed follow network.mode", kNetwork},
    SyscallSet{"@sandbox", "restrict oneself further: Landlock, another seccomp filter", kSandbox},
    SyscallSet{"@numa", "change NUMA memory placement (not in @default)", kNuma},
};

// Kernel interfaces a jailed program never needs and that have been the way out of sandboxes
// or into the kernel, refused whatever the policy allows (agentjail-policy(5), "Calls treated the same whatever the policy says").
constexpr std::array kAlwaysDenied = {
    SpecialCall{"unshare", "new namespaces would undo the jail's and expose more kernel code"},
    SpecialCall{"setns", "joining another namespace"},
    SpecialCall{"mount", "the jail's mount table is fixed"},
    SpecialCall{"umount", "the jail's mount table is fixed"},
    SpecialCall{"umount2", "the jail's mount table is fixed"},
    SpecialCall{"pivot_root", "the jail's root is fixed"},
    SpecialCall{"chroot", "the jail's root is fixed"},
    SpecialCall{"open_tree", "new mount API"},
    SpecialCall{"move_mount", "new mount API"},
    SpecialCall{"fsopen", "new mount API"},
    SpecialCall{"fsconfig", "new mount API"},
    SpecialCall{"fsmount", "new mount API"},
    SpecialCall{"fspick", "new mount API"},
    SpecialCall{"mount_setattr", "new mount API"},
    SpecialCall{"io_uring_setup", "io_uring: large attack surface, submitted operations bypass seccomp"},
    SpecialCall{"io_uring_enter", "io_uring"},
    SpecialCall{"io_uring_register", "io_uring"},
    SpecialCall{"bpf", "eBPF programs run in the kernel"},
    SpecialCall{"perf_event_open", "performance counters leak host activity; frequent kernel bugs"},
    SpecialCall{"userfaultfd", "lets an exploit stall the kernel at a chosen page fault"},
    SpecialCall{"keyctl", "kernel keyrings: shared kernel state outside the jail's namespaces, a frequent source of bugs"},
    SpecialCall{"add_key", "kernel keyrings: shared kernel state outside the jail's namespaces, a frequent source of bugs"},
    SpecialCall{"request_key", "kernel keyrings: shared kernel state outside the jail's namespaces, a frequent source of bugs"},
    SpecialCall{"init_module", "kernel modules"},
    SpecialCall{"finit_module", "kernel modules"},
    SpecialCall{"delete_module", "kernel modules"},
    SpecialCall{"kexec_load", "replacing the kernel"},
    SpecialCall{"kexec_file_load", "replacing the kernel"},
    SpecialCall{"ptrace", "tracing another process is reading and writing its memory"},
    SpecialCall{"process_vm_readv", "reading another process's memory"},
    SpecialCall{"process_vm_writev", "writing another process's memory"},
    SpecialCall{"open_by_handle_at", "opens files by handle, bypassing the jail's mounts (the 'shocker' escape)"},
    SpecialCall{"name_to_handle_at", "companion of open_by_handle_at"},
};

constexpr std::array kArgumentChecked = {
    SpecialCall{"clone", "refused with any CLONE_NEW* flag (namespaces)"},
    SpecialCall{"ioctl", "refused for TIOCSTI (type into the terminal) and TIOCLINUX, on the low 32 bits of the "
                         "request as the kernel reads it"},
    SpecialCall{"personality", "only 0, PER_LINUX32 (8), UNAME26 (0x20000), both (0x20008) and the query "
                               "0xffffffff: the other flags (e.g. ADDR_NO_RANDOMIZE) weaken the process"},
    SpecialCall{"seccomp", "refused with SECCOMP_FILTER_FLAG_NEW_LISTENER: a listener of the jail's own could let "
                           "through the calls this filter refuses"},
    SpecialCall{"socket", "address families by network.mode: none -> AF_UNIX; loopback, host -> AF_UNIX, AF_INET, "
                          "AF_INET6, AF_NETLINK with NETLINK_ROUTE only. Never AF_PACKET, AF_VSOCK, AF_ALG, AF_KEY"},
    SpecialCall{"socketpair", "the same address families as socket"},
    SpecialCall{"chmod", "refused with S_ISUID or S_ISGID: a setuid file on a read-write bind is nosuid in the jail "
                         "only, not on the host"},
    SpecialCall{"fchmod", "refused with S_ISUID or S_ISGID, like chmod"},
    SpecialCall{"fchmodat", "refused with S_ISUID or S_ISGID, like chmod"},
    SpecialCall{"fchmodat2", "refused with S_ISUID or S_ISGID, like chmod"},
    SpecialCall{"creat", "refused with S_ISUID or S_ISGID in the mode, like chmod"},
    SpecialCall{"open", "refused with O_CREAT or O_TMPFILE and S_ISUID or S_ISGID in the mode, like chmod"},
    SpecialCall{"openat", "refused with O_CREAT or O_TMPFILE and S_ISUID or S_ISGID in the mode, like chmod"},
    SpecialCall{"mknod", "refused with S_ISUID or S_ISGID in the mode, like chmod"},
    SpecialCall{"mknodat", "refused with S_ISUID or S_ISGID in the mode, like chmod"},
};

constexpr std::array kAlwaysAllowed = {
    SpecialCall{"execve", "starts the command"},
    SpecialCall{"exit", "a thread ending"},
    SpecialCall{"exit_group", "the process ending"},
    SpecialCall{"rt_sigreturn", "returning from a signal handler"},
    SpecialCall{"sendmsg", "on the jail's sync socket only (fd 1023, closed at exec): hands over the listener and "
                           "reports a failed execve"},
};

constexpr std::array kEnosys = {
    SpecialCall{"clone3", "its flags live in memory seccomp cannot read; ENOSYS makes libc fall back to clone"},
    SpecialCall{"openat2", "its flags and mode live in memory seccomp cannot read (a setuid file could be created); "
                           "ENOSYS makes its callers fall back to openat, which is checked"},
};

void expand_into(std::string_view set_name, std::set<std::string>& out, int depth) {
  const SyscallSet* set = find_set(set_name);
  if (!set || depth > 4) return;  // the table above nests one level; 4 catches a cycle
  for (auto member : set->members) {
    if (member.starts_with('@'))
      expand_into(member, out, depth + 1);
    else
      out.emplace(member);
  }
}

}  // namespace

std::span<const SyscallSet> sets() { return kSets; }

const SyscallSet* find_set(std::string_view name) {
  auto it = std::find_if(kSets.begin(), kSets.end(), [&](const SyscallSet& set) { return set.name == name; });
  return it == kSets.end() ? nullptr : &*it;
}

std::vector<std::string> set_names() {
  std::vector<std::string> names;
  for (const auto& set : kSets) names.emplace_back(set.name);
  return names;
}

std::vector<std::string> expand(std::string_view set_name) {
  std::set<std::string> members;
  expand_into(set_name, members, 0);
  return {members.begin(), members.end()};
}

bool is_syscall_name(std::string_view name) {
  // __NR_SCMP_ERROR for names libseccomp does not know on any architecture; other negative
  // values are its pseudo numbers for calls that exist only elsewhere (e.g. socketcall).
  return seccomp_syscall_resolve_name(std::string(name).c_str()) != __NR_SCMP_ERROR;
}

std::span<const SpecialCall> always_denied() { return kAlwaysDenied; }
std::span<const SpecialCall> argument_checked() { return kArgumentChecked; }
std::span<const SpecialCall> always_allowed() { return kAlwaysAllowed; }
std::span<const SpecialCall> enosys() { return kEnosys; }

}  // namespace aj::syscalls
