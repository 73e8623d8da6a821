#include "report/report.h"
#include "sys/process.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include "supervise/capture.h"
#include "supervise/outcome.h"

// gcc 12 at -O2 misreports assigning to a std::optional<std::string> member of a local as a
// read of uninitialized memory (GCC bug 105593 family); the code is plain assignment.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

using namespace aj;
using report::RunStatus;  // not aj::Status (base/error.h), the success-or-Error type

namespace {
int exited(int code) { return code << 8; }
int killed(int sig) { return sig; }
}  // namespace

TEST_CASE("outcome: exit statuses") {
  supervise::Observed o;
  o.command_status = exited(0);
  CHECK(supervise::classify(o).status == RunStatus::ok);
  o.command_status = exited(3);
  auto out = supervise::classify(o);
  CHECK(out.status == RunStatus::exit);
  CHECK(out.exit_code == 3);
  o.command_status = killed(SIGSEGV);
  out = supervise::classify(o);
  CHECK(out.status == RunStatus::signal);
  CHECK(out.signal == SIGSEGV);
  CHECK_FALSE(out.exit_code);
}

TEST_CASE("outcome: limits agentjail enforced win over the command's status") {
  supervise::Observed o;
  o.command_status = killed(SIGKILL);
  o.timed_out = true;
  CHECK(supervise::classify(o).status == RunStatus::timeout);
  o.timed_out = false;
  o.cpu_exceeded = true;
  CHECK(supervise::classify(o).status == RunStatus::cpu_limit);
  o.cpu_exceeded = false;
  o.oom_killed = true;
  CHECK(supervise::classify(o).status == RunStatus::memory_limit);
  o.oom_killed = false;
  o.command_status = killed(SIGXCPU);
  o.cpu_limit_ms = 1000;
  o.cpu_used_ms = 1000;
  CHECK(supervise::classify(o).status == RunStatus::cpu_limit);
}

TEST_CASE("outcome: a bare SIGSYS is seccomp only when no listener delivered the filter's kills") {
  supervise::Observed o;
  o.command_status = killed(SIGSYS);
  o.seccomp_action = plan::FilterAction::kill;
  o.seccomp_notify = true;
  CHECK(supervise::classify(o).status == RunStatus::signal);  // kill -SYS $$
  o.seccomp_kill = true;
  CHECK(supervise::classify(o).status == RunStatus::seccomp);  // the listener's verdict
  o.seccomp_kill = false;
  o.seccomp_notify = false;
  CHECK(supervise::classify(o).status == RunStatus::seccomp);  // SECCOMP_RET_KILL_PROCESS
}

TEST_CASE("outcome: a SIGXCPU the command raised itself is a signal, not cpu_limit") {
  supervise::Observed o;
  o.command_status = killed(SIGXCPU);
  o.cpu_limit_ms = 10000;
  o.cpu_used_ms = 4;
  CHECK(supervise::classify(o).status == RunStatus::signal);
  o.cpu_limit_ms.reset();  // no cpu_time limit at all
  CHECK(supervise::classify(o).status == RunStatus::signal);
}

TEST_CASE("outcome: pids_limit only when the command then failed") {
  supervise::Observed o;
  o.pids_max_hit = true;
  o.command_status = exited(0);
  CHECK(supervise::classify(o).status == RunStatus::ok);
  o.command_status = exited(1);
  CHECK(supervise::classify(o).status == RunStatus::pids_limit);
}

TEST_CASE("outcome: seccomp kill") {
  supervise::Observed o;
  o.command_status = killed(SIGSYS);
  o.seccomp_action = plan::FilterAction::kill;
  CHECK(supervise::classify(o).status == RunStatus::seccomp);
  o.seccomp_action = plan::FilterAction::errno_;
  CHECK(supervise::classify(o).status == RunStatus::signal);
}

TEST_CASE("outcome: setup errors and exec failures") {
  supervise::Observed o;
  o.setup_error = "build-root: mount /x: No such file or directory";
  auto out = supervise::classify(o);
  CHECK(out.status == RunStatus::setup_error);
  CHECK(out.error == o.setup_error);
  supervise::Observed e;
  e.exec_failure = 127;
  e.exec_error = "python4: command not found";
  e.command_status = exited(127);
  out = supervise::classify(e);
  CHECK(out.status == RunStatus::exit);
  CHECK(out.exit_code == 127);
  supervise::Observed none;
  CHECK(supervise::classify(none).status == RunStatus::setup_error);
  CHECK(supervise::classify(none).error == "the jail's init ended without a report");
  supervise::Observed starved;  // killed by the memory limit before the command started
  starved.oom_killed = true;
  out = supervise::classify(starved);
  CHECK(out.status == RunStatus::setup_error);
  REQUIRE(out.error);
  CHECK(out.error->find("limits.memory is too small") != std::string::npos);
}

TEST_CASE("exit codes follow SPEC §5") {
  report::Report r;
  r.status = RunStatus::ok;
  CHECK(report::exit_code(r) == 0);
  r.status = RunStatus::exit;
  r.exit_code = 126;
  CHECK(report::exit_code(r) == 126);
  r.status = RunStatus::timeout;
  CHECK(report::exit_code(r) == 124);
  r.status = RunStatus::cpu_limit;
  CHECK(report::exit_code(r) == 124);
  r.status = RunStatus::memory_limit;
  CHECK(report::exit_code(r) == 137);
  r.status = RunStatus::setup_error;
  CHECK(report::exit_code(r) == 125);
  r.status = RunStatus::signal;
  r.signal = SIGSEGV;
  CHECK(report::exit_code(r) == 139);
}

TEST_CASE("report JSON has every field, null where it does not apply") {
  report::Report r;
  r.status = RunStatus::setup_error;
  r.error = "boom";
  auto j = report::to_json(r);
  for (const char* key : {"schema", "agentjail", "id", "policy", "command", "status", "exit_code", "signal",
                          "started_at", "wall_time_ms", "cpu", "memory", "pids", "limits", "enforcement",
                          "violations", "warnings", "error"})
    CHECK_MESSAGE(j.contains(key), key);
  CHECK(j["exit_code"].is_null());
  CHECK(j["signal"].is_null());
  CHECK(j["status"] == "setup_error");
  CHECK(j["limits"]["memory_bytes"].is_null());
  CHECK_FALSE(j.contains("stdout"));
  r.stdout_capture = supervise::Capture{"hi", 10};
  j = report::to_json(r);
  CHECK(j["stdout"] == "hi");
  CHECK(j["stdout_bytes"] == 10);
  CHECK(j["stdout_truncated"] == true);
  CHECK(j["stderr"].is_null());
}

TEST_CASE("report JSON: enforcement.landlock is false when off, else the ABIs and what is missing") {
  report::Report r;
  CHECK(report::to_json(r)["enforcement"]["landlock"] == false);
  r.landlock = report::LandlockEnforcement{6, 3, {"ioctl_dev", "abstract_unix_socket", "signal"}};
  auto landlock = report::to_json(r)["enforcement"]["landlock"];
  CHECK(landlock["abi_kernel"] == 6);
  CHECK(landlock["abi_used"] == 3);
  CHECK(landlock["not_enforced"] == nlohmann::json::array({"ioctl_dev", "abstract_unix_socket", "signal"}));
}

TEST_CASE("signal names") {
  CHECK(sys::signal_name(SIGKILL) == "SIGKILL");
  CHECK(sys::signal_name(SIGSYS) == "SIGSYS");
}

TEST_CASE("sanitize_utf8 replaces every invalid sequence") {
  CHECK(report::sanitize_utf8("plain") == "plain");
  CHECK(report::sanitize_utf8("\xc3\xa9") == "\xc3\xa9");
  CHECK(report::sanitize_utf8("a\xff" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(report::sanitize_utf8("\xc0\xaf") == "\xEF\xBF\xBD\xEF\xBF\xBD");   // overlong '/'
  CHECK(report::sanitize_utf8("\xed\xa0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(report::sanitize_utf8("\xe2\x82") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // cut short
}

TEST_CASE("run ids are unique and timestamps are UTC") {
  CHECK(report::new_run_id() != report::new_run_id());
  CHECK(report::new_run_id().size() == 32);
  auto ts = report::utc_timestamp_now();
  CHECK(ts.size() == 24);
  CHECK(ts.back() == 'Z');
}

TEST_CASE("bounded capture keeps the head and counts the rest") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  supervise::BoundedCapture capture(sys::UniqueFd(fds[0]), 4);
  REQUIRE(write(fds[1], "0123456789", 10) == 10);
  close(fds[1]);
  while (capture.open()) REQUIRE(capture.drain());
  CHECK(capture.result().kept == "0123");
  CHECK(capture.result().total == 10);
  CHECK(capture.result().truncated());
}
