#include "syscalls/names.h"

#include <linux/audit.h>
#include <seccomp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <utility>

namespace aj::syscalls {
namespace {

struct ArgCount {
  std::string_view name;
  int args;
};

// Argument counts of the x86_64 system calls (and the few generic names the sets use), sorted
// by name for binary search. From the kernel's SYSCALL_DEFINEn declarations.
constexpr ArgCount kArgCounts[] = {
    {"_sysctl", 1}, {"accept", 3}, {"accept4", 4}, {"access", 2}, {"acct", 1}, {"add_key", 5}, {"adjtimex", 1},
    {"alarm", 1}, {"arch_prctl", 2}, {"bind", 3}, {"bpf", 3}, {"brk", 1}, {"cachestat", 4}, {"capget", 2},
    {"capset", 2}, {"chdir", 1}, {"chmod", 2}, {"chown", 3}, {"chroot", 1}, {"clock_adjtime", 2},
    {"clock_getres", 2}, {"clock_gettime", 2}, {"clock_nanosleep", 4}, {"clock_settime", 2}, {"clone", 5},
    {"clone3", 2}, {"close", 1}, {"close_range", 3}, {"connect", 3}, {"copy_file_range", 6}, {"creat", 2},
    {"delete_module", 2}, {"dup", 1}, {"dup2", 2}, {"dup3", 3}, {"epoll_create", 1}, {"epoll_create1", 1},
    {"epoll_ctl", 4}, {"epoll_pwait", 6}, {"epoll_pwait2", 6}, {"epoll_wait", 4}, {"eventfd", 1}, {"eventfd2", 2},
    {"execve", 3}, {"execveat", 5}, {"exit", 1}, {"exit_group", 1}, {"faccessat", 3}, {"faccessat2", 4},
    {"fadvise64", 4}, {"fallocate", 4}, {"fanotify_init", 2}, {"fanotify_mark", 5}, {"fchdir", 1}, {"fchmod", 2},
    {"fchmodat", 3}, {"fchmodat2", 4}, {"fchown", 3}, {"fchownat", 5}, {"fcntl", 3}, {"fdatasync", 1},
    {"fgetxattr", 4}, {"finit_module", 3}, {"flistxattr", 3}, {"flock", 2}, {"fork", 0}, {"fremovexattr", 2},
    {"fsconfig", 5}, {"fsetxattr", 5}, {"fsmount", 3}, {"fsopen", 2}, {"fspick", 3}, {"fstat", 2}, {"fstatfs", 2},
    {"fsync", 1}, {"ftruncate", 2}, {"futex", 6}, {"futex_requeue", 4}, {"futex_wait", 6}, {"futex_waitv", 5},
    {"futex_wake", 4}, {"futimesat", 3}, {"get_mempolicy", 5}, {"get_robust_list", 3}, {"get_thread_area", 1},
    {"getcpu", 3}, {"getcwd", 2}, {"getdents", 3}, {"getdents64", 3}, {"getegid", 0}, {"geteuid", 0},
    {"getgid", 0}, {"getgroups", 2}, {"getitimer", 2}, {"getpeername", 3}, {"getpgid", 1}, {"getpgrp", 0},
    {"getpid", 0}, {"getppid", 0}, {"getpriority", 2}, {"getrandom", 3}, {"getresgid", 3}, {"getresuid", 3},
    {"getrlimit", 2}, {"getrusage", 2}, {"getsid", 1}, {"getsockname", 3}, {"getsockopt", 5}, {"gettid", 0},
    {"gettimeofday", 2}, {"getuid", 0}, {"getxattr", 4}, {"init_module", 3}, {"inotify_add_watch", 3},
    {"inotify_init", 0}, {"inotify_init1", 1}, {"inotify_rm_watch", 2}, {"io_cancel", 3}, {"io_destroy", 1},
    {"io_getevents", 5}, {"io_pgetevents", 6}, {"io_setup", 2}, {"io_submit", 3}, {"io_uring_enter", 6},
    {"io_uring_register", 4}, {"io_uring_setup", 2}, {"ioctl", 3}, {"ioperm", 3}, {"iopl", 1}, {"ioprio_get", 2},
    {"ioprio_set", 3}, {"kcmp", 5}, {"kexec_file_load", 5}, {"kexec_load", 4}, {"keyctl", 5}, {"kill", 2},
    {"landlock_add_rule", 4}, {"landlock_create_ruleset", 3}, {"landlock_restrict_self", 2}, {"lchown", 3},
    {"lgetxattr", 4}, {"link", 2}, {"linkat", 5}, {"listen", 2}, {"listxattr", 3}, {"llistxattr", 3},
    {"lookup_dcookie", 3}, {"lremovexattr", 2}, {"lseek", 3}, {"lsetxattr", 5}, {"lstat", 2}, {"madvise", 3},
    {"map_shadow_stack", 3}, {"mbind", 6}, {"membarrier", 3}, {"memfd_create", 2}, {"memfd_secret", 1},
    {"migrate_pages", 4}, {"mincore", 3}, {"mkdir", 2}, {"mkdirat", 3}, {"mknod", 3}, {"mknodat", 4}, {"mlock", 2},
    {"mlock2", 3}, {"mlockall", 1}, {"mmap", 6}, {"modify_ldt", 3}, {"mount", 5}, {"mount_setattr", 5},
    {"move_mount", 5}, {"move_pages", 6}, {"mprotect", 3}, {"mq_getsetattr", 3}, {"mq_notify", 2}, {"mq_open", 4},
    {"mq_timedreceive", 5}, {"mq_timedsend", 5}, {"mq_unlink", 1}, {"mremap", 5}, {"msgctl", 3}, {"msgget", 2},
    {"msgrcv", 5}, {"msgsnd", 4}, {"msync", 3}, {"munlock", 2}, {"munlockall", 0}, {"munmap", 2},
    {"name_to_handle_at", 5}, {"nanosleep", 2}, {"newfstatat", 4}, {"open", 3}, {"open_by_handle_at", 3},
    {"open_tree", 3}, {"openat", 4}, {"openat2", 4}, {"pause", 0}, {"perf_event_open", 5}, {"personality", 1},
    {"pidfd_getfd", 3}, {"pidfd_open", 2}, {"pidfd_send_signal", 4}, {"pipe", 1}, {"pipe2", 2}, {"pivot_root", 2},
    {"pkey_alloc", 2}, {"pkey_free", 1}, {"pkey_mprotect", 4}, {"poll", 3}, {"ppoll", 5}, {"prctl", 5},
    {"pread64", 4}, {"preadv", 4}, {"preadv2", 6}, {"prlimit64", 4}, {"process_madvise", 5},
    {"process_mrelease", 2}, {"process_vm_readv", 6}, {"process_vm_writev", 6}, {"pselect6", 6}, {"ptrace", 4},
    {"pwrite64", 4}, {"pwritev", 4}, {"pwritev2", 6}, {"quotactl", 4}, {"quotactl_fd", 4}, {"read", 3},
    {"readahead", 3}, {"readlink", 3}, {"readlinkat", 4}, {"readv", 3}, {"reboot", 4}, {"recvfrom", 6},
    {"recvmmsg", 5}, {"recvmsg", 3}, {"remap_file_pages", 5}, {"removexattr", 2}, {"rename", 2}, {"renameat", 4},
    {"renameat2", 5}, {"request_key", 4}, {"restart_syscall", 0}, {"rmdir", 1}, {"rseq", 4}, {"rt_sigaction", 4},
    {"rt_sigpending", 2}, {"rt_sigprocmask", 4}, {"rt_sigqueueinfo", 3}, {"rt_sigreturn", 0}, {"rt_sigsuspend", 2},
    {"rt_sigtimedwait", 4}, {"rt_tgsigqueueinfo", 4}, {"sched_get_priority_max", 1}, {"sched_get_priority_min", 1},
    {"sched_getaffinity", 3}, {"sched_getattr", 4}, {"sched_getparam", 2}, {"sched_getscheduler", 1},
    {"sched_rr_get_interval", 2}, {"sched_setaffinity", 3}, {"sched_setattr", 3}, {"sched_setparam", 2},
    {"sched_setscheduler", 3}, {"sched_yield", 0}, {"seccomp", 3}, {"select", 5}, {"semctl", 4}, {"semget", 3},
    {"semop", 3}, {"semtimedop", 4}, {"sendfile", 4}, {"sendmmsg", 4}, {"sendmsg", 3}, {"sendto", 6},
    {"set_mempolicy", 3}, {"set_mempolicy_home_node", 4}, {"set_robust_list", 2}, {"set_thread_area", 1},
    {"set_tid_address", 1}, {"setdomainname", 2}, {"setfsgid", 1}, {"setfsuid", 1}, {"setgid", 1},
    {"setgroups", 2}, {"sethostname", 2}, {"setitimer", 3}, {"setns", 2}, {"setpgid", 2}, {"setpriority", 3},
    {"setregid", 2}, {"setresgid", 3}, {"setresuid", 3}, {"setreuid", 2}, {"setrlimit", 2}, {"setsid", 0},
    {"setsockopt", 5}, {"settimeofday", 2}, {"setuid", 1}, {"setxattr", 5}, {"shmat", 3}, {"shmctl", 3},
    {"shmdt", 1}, {"shmget", 3}, {"shutdown", 2}, {"sigaltstack", 2}, {"signalfd", 3}, {"signalfd4", 4},
    {"socket", 3}, {"socketcall", 2}, {"socketpair", 4}, {"splice", 6}, {"stat", 2}, {"statfs", 2}, {"statx", 5},
    {"swapoff", 1}, {"swapon", 2}, {"symlink", 2}, {"symlinkat", 3}, {"sync", 0}, {"sync_file_range", 4},
    {"syncfs", 1}, {"sysfs", 3}, {"sysinfo", 1}, {"syslog", 3}, {"tee", 4}, {"tgkill", 3}, {"time", 1},
    {"timer_create", 3}, {"timer_delete", 1}, {"timer_getoverrun", 1}, {"timer_gettime", 2}, {"timer_settime", 4},
    {"timerfd_create", 2}, {"timerfd_gettime", 2}, {"timerfd_settime", 4}, {"times", 1}, {"tkill", 2},
    {"truncate", 2}, {"umask", 1}, {"umount", 1}, {"umount2", 2}, {"uname", 1}, {"unlink", 1}, {"unlinkat", 3},
    {"unshare", 1}, {"uselib", 1}, {"userfaultfd", 1}, {"ustat", 2}, {"utime", 2}, {"utimensat", 4}, {"utimes", 2},
    {"vfork", 0}, {"vhangup", 0}, {"vmsplice", 4}, {"wait4", 4}, {"waitid", 5}, {"write", 3}, {"writev", 3},
};

constexpr uint32_t kX32Bit = 0x40000000;

}  // namespace

std::string syscall_name(uint32_t audit_arch, int nr) {
  std::string prefix;
  uint32_t arch = audit_arch;
  if (audit_arch == AUDIT_ARCH_I386) {
    prefix = "i386:";
    arch = SCMP_ARCH_X86;
  } else if (audit_arch == AUDIT_ARCH_X86_64 && (static_cast<uint32_t>(nr) & kX32Bit)) {
    prefix = "x32:";
    arch = SCMP_ARCH_X32;
  } else if (audit_arch != seccomp_arch_native()) {
    prefix = "arch-" + std::to_string(audit_arch) + ":";
  }
  // libseccomp's architecture tokens are the AUDIT_ARCH_* values; the name is malloc()ed.
  std::unique_ptr<char, decltype(&std::free)> name(seccomp_syscall_resolve_num_arch(arch, nr), &std::free);
  return prefix + (name ? name.get() : "unknown");
}

std::optional<int> syscall_arg_count(std::string_view name) {
  // Foreign ABIs ("i386:...") shape their calls differently: not in this table.
  auto it = std::lower_bound(std::begin(kArgCounts), std::end(kArgCounts), name,
                             [](const ArgCount& entry, std::string_view key) { return entry.name < key; });
  if (it == std::end(kArgCounts) || it->name != name) return std::nullopt;
  return it->args;
}

}  // namespace aj::syscalls
