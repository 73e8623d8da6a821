#include "report/report.h"

#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <cstdio>

#include "base/version.h"
#include "report/exit_codes.h"
#include "sys/process.h"

namespace aj::report {

const char* to_string(RunStatus status) {
  switch (status) {
    case RunStatus::ok: return "ok";
    case RunStatus::exit: return "exit";
    case RunStatus::signal: return "signal";
    case RunStatus::timeout: return "timeout";
    case RunStatus::cpu_limit: return "cpu_limit";
    case RunStatus::memory_limit: return "memory_limit";
    case RunStatus::pids_limit: return "pids_limit";
    case RunStatus::seccomp: return "seccomp";
    case RunStatus::setup_error: return "setup_error";
  }
  return "setup_error";
}

std::string sanitize_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  while (i < in.size()) {
    unsigned char c = byte(i);
    size_t len = 0;
    uint32_t min = 0;
    if (c < 0x80) len = 1;
    else if ((c & 0xE0) == 0xC0) len = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, min = 0x10000;
    bool valid = len > 0 && i + len <= in.size();
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; valid && k < len; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) valid = false;
      else cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
    if (valid && len > 1 && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) valid = false;
    if (valid) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string new_run_id() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  char hex[33];
  for (size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return hex;
}

std::string utc_timestamp_now() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  ::gmtime_r(&now.tv_sec, &utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, now.tv_nsec / 1000000);
  return buf;
}

namespace {

template <class T>
nlohmann::json or_null(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

double round3(double ms) { return static_cast<double>(static_cast<int64_t>(ms * 1000 + 0.5)) / 1000; }

}  // namespace

nlohmann::json to_json(const Report& r) {
  using nlohmann::json;
  json j = json::object();
  j["schema"] = 1;
  j["agentjail"] = AGENTJAIL_VERSION;
  j["id"] = r.id;
  j["policy"] = {{"name", r.policy_name}, {"source", r.policy_source}, {"sha256", r.policy_sha256}};
  j["command"] = r.command;
  j["status"] = to_string(r.status);
  j["exit_code"] = or_null(r.exit_code);
  j["signal"] = r.signal ? json(sys::signal_name(*r.signal)) : json(nullptr);
  j["error"] = or_null(r.error);
  j["started_at"] = r.started_at;
  j["wall_time_ms"] = round3(r.wall_time_ms);
  j["cpu"] = {{"user_ms", r.cpu_user_ms ? json(round3(*r.cpu_user_ms)) : json(nullptr)},
              {"system_ms", r.cpu_system_ms ? json(round3(*r.cpu_system_ms)) : json(nullptr)}};
  j["memory"] = {{"peak_bytes", or_null(r.memory_peak_bytes)},
                 {"source", r.memory_source.empty() ? json(nullptr) : json(r.memory_source)}};
  j["pids"] = {{"peak", or_null(r.pids_peak)}};
  j["limits"] = {{"wall_time_ms", or_null(r.limit_wall_time_ms)},
                 {"cpu_time_ms", or_null(r.limit_cpu_time_ms)},
                 {"memory_bytes", or_null(r.limit_memory_bytes)},
                 {"pids", or_null(r.limit_pids)}};
  json landlock = false;
  if (r.landlock)
    landlock = {{"abi_kernel", r.landlock->abi_kernel}, {"abi_used", r.landlock->abi_used},
                {"not_enforced", r.landlock->not_enforced}};
  j["enforcement"] = {{"userns", r.userns}, {"cgroup", r.cgroup}, {"seccomp", r.seccomp}, {"landlock", landlock}};
  json violations = json::array();
  for (const auto& v : r.violations)
    violations.push_back({{"syscall", v.syscall}, {"nr", v.nr}, {"args", v.args}, {"pid", v.pid},
                          {"action", v.action}, {"count", v.count}});
  j["violations"] = std::move(violations);
  j["violations_dropped"] = r.violations_dropped;
  j["warnings"] = r.warnings;
  json workspace = nullptr;
  if (r.workspace) {
    const WorkspaceReport& w = *r.workspace;
    json changes = nullptr;
    if (w.changes) {
      changes = json::array();
      for (const auto& c : *w.changes)
        changes.push_back({{"path", sanitize_utf8(c.path)}, {"change", workspace::to_string(c.kind)}, {"bytes", c.bytes}});
    }
    workspace = {{"source", w.source}, {"target", w.target}, {"mode", w.mode}, {"changes", changes},
                 {"changes_total", or_null(w.changes_total)}, {"kept", or_null(w.kept)}};
  }
  j["workspace"] = std::move(workspace);
  j["network"] = r.network ? net::to_json(*r.network) : json(nullptr);
  const auto capture = [&](const char* name, const std::optional<supervise::Capture>& c) {
    const std::string key(name);
    j[key] = c ? json(sanitize_utf8(c->kept)) : json(nullptr);
    j[key + "_bytes"] = c ? json(c->total) : json(nullptr);
    j[key + "_truncated"] = c ? json(c->truncated()) : json(nullptr);
  };
  if (r.stdout_capture || r.stderr_capture) {
    capture("stdout", r.stdout_capture);
    capture("stderr", r.stderr_capture);
  }
  return j;
}

int exit_code(const Report& r) {
  switch (r.status) {
    case RunStatus::ok: return 0;
    case RunStatus::exit: return r.exit_code.value_or(kExitSetupError);
    case RunStatus::timeout:
    case RunStatus::cpu_limit: return kExitTimeLimit;
    case RunStatus::memory_limit: return 128 + SIGKILL;
    case RunStatus::setup_error: return kExitSetupError;
    case RunStatus::signal:
    case RunStatus::seccomp:
    case RunStatus::pids_limit:
      if (r.signal) return 128 + *r.signal;
      return r.exit_code.value_or(kExitSetupError);
  }
  return kExitSetupError;
}

}  // namespace aj::report
