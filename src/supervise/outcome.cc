#include "supervise/outcome.h"

#include <signal.h>
#include <sys/wait.h>

#include "sys/process.h"

namespace aj::supervise {

using Status = RunStatus;

Outcome classify(const Observed& o) {
  if (o.setup_error) return {Status::setup_error, std::nullopt, std::nullopt, o.setup_error};
  // Limits agentjail enforced itself come first: whatever the command's status says, it is
  // the consequence of our SIGKILL.
  if (o.interrupted_by)
    return {Status::signal, std::nullopt, o.interrupted_by,
            "agentjail received " + sys::signal_name(*o.interrupted_by) + "; the jail was killed"};
  if (o.timed_out) return {Status::timeout, std::nullopt, SIGKILL, std::nullopt};
  if (o.cpu_exceeded) return {Status::cpu_limit, std::nullopt, SIGKILL, std::nullopt};
  if (o.seccomp_kill) return {Status::seccomp, std::nullopt, SIGSYS, std::nullopt};
  if (o.exec_failure) return {Status::exit, o.exec_failure, std::nullopt, o.exec_error};
  if (!o.command_status) {
    // pid 1 died before it could report the command's end. With the command started, an OOM
    // kill in the jail's cgroup is the memory limit (pid 1 is the OOM killer's last choice, but
    // a jail whose memory is all kernel memory leaves it no other): the run's verdict, not a
    // set-up failure. Before the start, the limit was too small to build the jail at all.
    if (o.oom_killed && o.command_started)
      return {Status::memory_limit, std::nullopt, SIGKILL,
              "the memory limit was reached and the OOM killer ended the jail's init (the command's memory was "
              "mostly kernel memory: socket buffers, tmpfs, page tables)"};
    if (o.oom_killed)
      return {Status::setup_error, std::nullopt, std::nullopt,
              "the jail's init was killed by the memory limit while building the jail: limits.memory is too small "
              "to start anything"};
    return {Status::setup_error, std::nullopt, std::nullopt, "the jail's init ended without a report"};
  }

  const int status = *o.command_status;
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const bool cpu_spent = o.cpu_used_ms && o.cpu_limit_ms && *o.cpu_used_ms >= static_cast<double>(*o.cpu_limit_ms);
    if (sig == SIGKILL && o.oom_killed) return {Status::memory_limit, std::nullopt, sig, std::nullopt};
    // SIGXCPU is a verdict only when the CPU was really spent: `kill -XCPU $$` is the
    // command's own signal, not agentjail's limit.
    if ((sig == SIGXCPU || sig == SIGKILL) && cpu_spent) return {Status::cpu_limit, std::nullopt, sig, std::nullopt};
    // Without a listener the kernel's SECCOMP_RET_KILL_PROCESS leaves only the SIGSYS to go by.
    if (sig == SIGSYS && o.seccomp_action == plan::FilterAction::kill && !o.seccomp_notify)
      return {Status::seccomp, std::nullopt, sig, std::nullopt};
    if (o.pids_max_hit) return {Status::pids_limit, std::nullopt, sig, std::nullopt};
    return {Status::signal, std::nullopt, sig, std::nullopt};
  }
  const int code = WEXITSTATUS(status);
  if (code == 0) return {Status::ok, 0, std::nullopt, std::nullopt};
  if (o.oom_killed) return {Status::memory_limit, code, std::nullopt, std::nullopt};
  if (o.pids_max_hit) return {Status::pids_limit, code, std::nullopt, std::nullopt};
  return {Status::exit, code, std::nullopt, std::nullopt};
}

}  // namespace aj::supervise
