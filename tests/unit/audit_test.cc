#include "report/audit.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

using namespace aj;

namespace {

report::Report sample_report() {
  report::Report r;
  r.id = "0123456789abcdef0123456789abcdef";
  r.policy_name = "python";
  r.policy_source = "builtin:python";
  r.policy_sha256 = std::string(64, 'a');
  r.command = {"python3", "-c", "print('a\nb')"};
  r.status = report::RunStatus::ok;
  r.exit_code = 0;
  r.started_at = "2026-11-22T10:00:00.000Z";
  r.stdout_capture = supervise::Capture{"SECRET-OUTPUT", 13};
  r.stderr_capture = supervise::Capture{"SECRET-ERROR", 12};
  return r;
}

// A fresh directory under TMPDIR, removed with its files at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    std::string pattern = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/aj-audit-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { (void)!std::system(("rm -rf '" + path + "'").c_str()); }
};

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("audit: one line, the report without captured output, plus the caller") {
  const std::string line = report::audit_line(sample_report(), 1000);
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);  // the newline inside the argument is escaped
  auto record = nlohmann::json::parse(line);
  CHECK(record["caller_uid"] == 1000);
  CHECK(record["status"] == "ok");
  CHECK(record["policy"]["sha256"] == std::string(64, 'a'));
  CHECK(record["command"][2] == "print('a\nb')");
  for (const char* field : {"stdout", "stderr", "stdout_bytes", "stderr_bytes", "stdout_truncated", "stderr_truncated"})
    CHECK_FALSE(record.contains(field));
  CHECK(line.find("SECRET") == std::string::npos);
  // Everything else the report has is there.
  auto full = report::to_json(sample_report());
  for (auto it = full.begin(); it != full.end(); ++it)
    if (it.key().rfind("std", 0) != 0) CHECK_MESSAGE(record.contains(it.key()), it.key());
}

TEST_CASE("audit: invalid UTF-8 in the command does not lose the line") {
  auto r = sample_report();
  r.command = {"echo", "\xff\xfe"};
  auto record = nlohmann::json::parse(report::audit_line(r, 0));
  CHECK(record["command"][1] == "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("audit: appends, creates the file 0600, refuses symlinks and FIFOs") {
  TempDir dir;
  const std::string log = dir.path + "/audit.log";
  CHECK(report::append_audit_line(log, sample_report(), 1));
  CHECK(report::append_audit_line(log, sample_report(), 2));
  auto lines = lines_of(log);
  REQUIRE(lines.size() == 2);
  CHECK(nlohmann::json::parse(lines[0])["caller_uid"] == 1);
  CHECK(nlohmann::json::parse(lines[1])["caller_uid"] == 2);
  struct stat st {};
  REQUIRE(::stat(log.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);

  const std::string link = dir.path + "/link.log";
  REQUIRE(::symlink(log.c_str(), link.c_str()) == 0);
  CHECK_FALSE(report::append_audit_line(link, sample_report(), 3));
  CHECK(lines_of(log).size() == 2);

  const std::string fifo = dir.path + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_FALSE(report::append_audit_line(fifo, sample_report(), 4));  // fails at once, no reader needed

  CHECK_FALSE(report::append_audit_line(dir.path + "/no/such/dir/log", sample_report(), 5));

  // A symlink in any component, not only the last, is refused (a jail may have planted it).
  const std::string sub = dir.path + "/sub", via = dir.path + "/via";
  REQUIRE(::mkdir(sub.c_str(), 0700) == 0);
  REQUIRE(::symlink(sub.c_str(), via.c_str()) == 0);
  CHECK_FALSE(report::append_audit_line(via + "/log", sample_report(), 6));
  CHECK(::access((sub + "/log").c_str(), F_OK) != 0);
  // A second hard link to the log is how a planted name would redirect appends.
  REQUIRE(::link(log.c_str(), (sub + "/hard").c_str()) == 0);
  CHECK_FALSE(report::append_audit_line(log, sample_report(), 7));
  CHECK(lines_of(log).size() == 2);
}

TEST_CASE("audit: concurrent writers never interleave lines") {
  TempDir dir;
  const std::string log = dir.path + "/audit.log";
  constexpr int kWriters = 50, kLinesEach = 20;
  auto big = sample_report();
  // Lines of ~64 KiB: well past PIPE_BUF and a page, where a non-atomic append would tear.
  big.warnings.assign(16, std::string(4000, 'w'));
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      bool ok = true;
      for (int i = 0; i < kLinesEach; ++i) ok = report::append_audit_line(log, big, static_cast<uid_t>(w)) && ok;
      ::_exit(ok ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto lines = lines_of(log);
  REQUIRE(lines.size() == kWriters * kLinesEach);
  std::multiset<int> callers;
  for (const auto& line : lines) {
    auto record = nlohmann::json::parse(line);  // throws (fails the test) on a torn line
    callers.insert(record["caller_uid"].get<int>());
    CHECK(record["warnings"].size() == 16);
  }
  for (int w = 0; w < kWriters; ++w) CHECK(callers.count(w) == kLinesEach);
}
