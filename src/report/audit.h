// The audit log: one JSON line per run appended to a file (`--audit-log PATH`, policy key
// `audit_log`), for operators who need to know who ran what, under which policy, and how it ended.
//
// A line is the report (agentjail(1), THE REPORT) without the six capture fields, plus "caller_uid". It never
// holds the jailed command's output or any environment value (the report has neither once the
// capture fields are gone): captured output is the untrusted program's own data and may carry
// whatever secrets it could read (workspace files, tokens passed in files), it is up to
// 2 x limits.output bytes per run, which would bloat a log meant to be kept for months and turn
// the single write(2) below into megabytes, and an audit trail needs the facts of the run, not
// its content. Callers that want the output keep it with --json or --report.
//
// Concurrency: the file is opened O_APPEND and each line goes out in one write(2). On a local
// filesystem Linux serialises writes to one inode and places each O_APPEND write at the end as
// one unit, so lines from concurrent runs never interleave. NFS does not give that guarantee
// across machines: keep the log on a local filesystem (man agentjail(1), AUDIT LOG).
#pragma once

#include <sys/types.h>

#include <string>

#include "report/report.h"
#include "sys/fd.h"

namespace aj::report {

// The audit record for `report` as one line of JSON ending in '\n' (no other newline in it).
std::string audit_line(const Report& report, uid_t caller_uid);
// Appends one line for `report` to `path`; false (after one "agentjail:" line) on failure.
bool append_audit_line(const std::string& path, const Report& report, uid_t caller_uid);
// Opens the log for appending as append_audit_line does (no symlink in any component, regular
// files only, never blocking), so that a run can open it before its jail starts.
Result<sys::UniqueFd> open_audit_log(const std::string& path);
// Appends one line to a log opened with open_audit_log; `path` only names it in messages.
bool append_audit_line(int fd, const std::string& path, const Report& report, uid_t caller_uid);

}  // namespace aj::report
