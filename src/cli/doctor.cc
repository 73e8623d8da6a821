// `agentjail doctor [-p POLICY] [--json]`: what this host can enforce, and how each limit of the
// policy (default: `default`) would be enforced by `agentjail run` here. It removes stale cgroups
// of SIGKILLed runs on the way. Exit 0 when the policy is enforced in full, 1 when anything would
// be weaker (the output says what), 125 when the policy does not load.
//
// --json prints one object (schema 1; fields are only ever added):
//   schema            1
//   agentjail         version
//   kernel            `uname -r`
//   caller            {uid, euid, root}
//   userns            {available: bool (this caller can create one: tested), unprivileged: bool (ordinary
//                      users can: tested as uid 65534 when root, else from the sysctls), error: string|null
//                      (what the test hit), problem: string|null (sysctls/AppArmor, with the fix)}
//   cgroup            {v2: {mounted, mount, cgroup (ours, relative to mount), writable, available: [..],
//                      delegated: [..] (controllers we can enable for the jail), problem: string|null},
//                      v1: {CONTROLLER: {path, writable, memsw (memory only), problem: string|null}},
//                      clone_into_cgroup, kill, memory_peak: bool, stale_removed: int}
//   seccomp           {filter: bool, user_notify: bool}
//   landlock          {abi: int (the kernel's; 0: unavailable), used: bool (the policy's ruleset would be
//                      applied), abi_used: int, mode: "off"|"best-effort"|"required" (the policy's),
//                      not_enforced: [..] (rights of agentjail's newest ABI this kernel lacks)}
//   host_ids          {source: "leased"|"policy"|"subordinate"|"caller" (where the jail's host uid comes from with the
//                      policy), range: "FIRST-LAST"|null (root: the lease range, --uid-range/AGENTJAIL_UID_RANGE),
//                      lock_dir, accounts: int (ids of the range /etc/passwd, group, subuid, subgid use),
//                      leased: int (held by running jails; -1 unknown), free: int, uid: int|null (policy, caller),
//                      subuid: ["FIRST-LAST", ..], subgid: [..] (an ordinary caller's), newuidmap: bool,
//                      shared: bool (the jail shares a host uid with other processes)}
//   policy            {name, source, cgroup: "v2"|"v1"|"none", limits: {LIMIT: {value: number|null (bytes,
//                      ms, count or CPUs; null = unlimited), enforced_by: string, full: bool}},
//                      warnings: [..] (as the run report would list them), notes: [..]}
//   network           {allowlist: bool (network.mode = "allowlist" works here: a user namespace made a
//                      network namespace, brought lo up with the AnyIP routes and opened a listener; tested,
//                      as uid 65534 too when root), ipv6: bool (the ::/0 route went in), error: string|null}
//   ok                bool: everything the policy asks would be enforced as asked
//   problems          [string]: why not, one line each
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fmt/format.h>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "base/version.h"
#include "cgroup/cgroup.h"
#include "cli/commands.h"
#include "host/host.h"
#include "host/ids.h"
#include "net/jail_side.h"
#include "limits/table.h"
#include "plan/build.h"
#include "plan/identity.h"
#include "plan/workspace.h"
#include "policy/emit.h"
#include "policy/limit_value.h"
#include "policy/load.h"
#include "report/exit_codes.h"

namespace aj::cli {
namespace {

using nlohmann::json;

constexpr int kNobody = 65534;

json text_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

struct LimitRow {
  std::string name;
  json value;          // null: unlimited
  std::string shown;   // value as the policy writes it
  std::string how;     // enforced_by
  bool full = true;
};

// How `run` would enforce `row` here, and whether in full: the same decision the planner makes.
std::pair<std::string, bool> enforced_by(const limits::Row& row, const plan::CgroupPlan& e, const host::Host& host) {
  const std::string cg = std::string("cgroup ") + plan::to_string(e.kind);
  const bool v2 = e.kind == plan::CgroupKind::v2;
  switch (row.enforcement) {
    case limits::Enforcement::supervisor_timer: return {"supervisor timer, SIGKILL of the whole jail", true};
    case limits::Enforcement::rlimit: return {row.rlimit_name, true};
    case limits::Enforcement::capture:
      return {"bytes kept per stream in --json mode; the rest is drained and counted", true};
    case limits::Enforcement::cgroup_usage:
      if (!e.cpu_time) return {fmt::format("{} per process only", row.rlimit_name), false};
      return {fmt::format("{}{} of the whole jail, polled by the supervisor ({} per process as a backstop)", cg,
                          v2 ? " cpu.stat" : " cpuacct.usage", row.rlimit_name),
              true};
    case limits::Enforcement::cgroup_or_rlimit:
    case limits::Enforcement::cgroup_only: break;
  }
  // The limits a cgroup controller enforces, each in its own words.
  if (row.key == "memory") {
    if (!e.memory) return {fmt::format("{} per process (address space)", row.rlimit_name), false};
    if (v2) return {cg + " memory.max" + (e.memory_swap ? ", memory.swap.max = 0" : ", swap not limited"),
                    e.memory_swap || host.swap_total_bytes == 0};
    return {cg + " memory.limit_in_bytes" +
                (e.memory_swap ? " = memory.memsw.limit_in_bytes (no swap)" : ", swap not limited"),
            e.memory_swap || host.swap_total_bytes == 0};
  }
  if (row.key == "pids") {
    if (!e.pids) return {fmt::format("{} of the jail's user", row.rlimit_name), false};
    return {cg + " pids.max", true};
  }
  if (row.key == "cpus") {
    if (!e.cpus) return {"not enforced", false};
    return {cg + (v2 ? " cpu.max" : " cpu.cfs_quota_us"), true};
  }
  return {"unknown", false};  // a cgroup-enforced row without its words here: the doctor test fails on it
}

// One row per limit of the table, in its order.
std::vector<LimitRow> limit_rows(const Limits& limits, const plan::CgroupPlan& e, const host::Host& host) {
  std::vector<LimitRow> rows;
  for (const auto& row : limits::kTable) {
    const limits::Value value = limits::get(limits, row);
    auto [how, full] = value ? enforced_by(row, e, host) : std::pair<std::string, bool>{"unlimited", true};
    rows.push_back({std::string(row.key), policy::to_json(value), policy::limit_text(row, value), how, full});
  }
  return rows;
}

struct HostIds {
  host::IdRange range;
  std::string range_error;    // AGENTJAIL_UID_RANGE does not parse
  uint64_t accounts = 0;      // ids of the range the host's accounts use
  int64_t leased = 0;         // held by running jails, -1: unknown
  int64_t free() const { return leased < 0 ? -1 : static_cast<int64_t>(range.count - accounts) - leased; }
};

// How an rw workspace of the current directory would get its owner's files (run -w .:rw).
struct WorkspaceFinding {
  std::string path;
  std::string way;     // plan::WorkspaceOwnership as text, or "" when it cannot be planned
  std::string detail;  // the fallback's warning, or why it cannot be planned
};

// network.mode = "allowlist" as the jail's init does it (net/jail_side.h), in a throwaway child:
// a user namespace owning a network namespace, lo up with the AnyIP routes, one listener. ""
// when it works (ipv6 set), else what failed. As `as_uid` when >= 0 (root testing for others).
std::string try_allowlist(int as_uid, bool* ipv6) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return "pipe: " + errno_text(errno);
  sys::UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  pid_t child = ::fork();
  if (child < 0) return "fork: " + errno_text(errno);
  if (child == 0) {
    read_end.reset();
    auto say = [&](const std::string& text) {
      (void)!::write(write_end.get(), text.data(), std::min<size_t>(text.size(), 512));
      ::_exit(1);
    };
    if (as_uid >= 0) {
      const auto id = static_cast<uid_t>(as_uid);
      if (::setgroups(0, nullptr) != 0 || ::setresgid(id, id, id) != 0 || ::setresuid(id, id, id) != 0)
        say("could not become uid " + std::to_string(as_uid));
    }
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) say("unshare(CLONE_NEWUSER | CLONE_NEWNET): " + errno_text(errno));
    auto anyip = net::bring_up_anyip();
    if (!anyip) say(anyip.error().what());
    auto listeners = net::make_listeners({80}, anyip->ipv6);
    if (!listeners) say(listeners.error().what());
    ::_exit(anyip->ipv6 ? 0 : 2);
  }
  write_end.reset();
  char buf[513];
  ssize_t n = 0, got = 0;
  while ((n = ::read(read_end.get(), buf + got, sizeof buf - 1 - size_t(got))) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) got += n;
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return "waitpid: " + errno_text(errno);
  if (WIFEXITED(status) && WEXITSTATUS(status) <= 2 && WEXITSTATUS(status) != 1) {
    *ipv6 = WEXITSTATUS(status) == 0;
    return "";
  }
  if (got > 0) return std::string(buf, size_t(got));
  return WIFSIGNALED(status) ? "the test process was killed by signal " + std::to_string(WTERMSIG(status))
                             : "the test process failed";
}

struct Findings {
  host::Host host;
  HostIds ids;
  WorkspaceFinding workspace;
  int stale_removed = 0;
  std::string userns_error;        // the caller's own test
  std::string unprivileged_error;  // root only: the test as uid 65534
  std::string allowlist_error;     // network.mode = "allowlist": the caller's test, then (root) as uid 65534
  bool allowlist_ipv6 = false;
  policy::Loaded policy;
  std::optional<plan::Plan> plan;
  std::string plan_error;
  std::vector<LimitRow> limits;
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

Findings examine(policy::Loaded loaded, const std::string& uid_range) {
  Findings f;
  f.host = host::probe();
  f.stale_removed = cgroup::remove_stale(f.host);
  f.userns_error = host::try_user_namespace();
  if (f.host.is_root()) f.unprivileged_error = host::try_user_namespace(kNobody);
  f.allowlist_error = try_allowlist(-1, &f.allowlist_ipv6);
  if (f.allowlist_error.empty() && f.host.is_root()) {
    bool ipv6 = false;
    if (std::string e = try_allowlist(static_cast<int>(kNobody), &ipv6); !e.empty())
      f.allowlist_error = "as uid " + std::to_string(kNobody) + ": " + e;
  }
  f.policy = std::move(loaded);

  auto range = host::configured_id_range(uid_range);
  if (range) f.ids.range = *range;
  else f.ids.range_error = range.error().what(), f.ids.range = host::kDefaultJailIds;
  if (f.host.is_root()) {
    f.ids.accounts = f.ids.range.count - host::unused_count(f.ids.range, host::read_ids_in_use());
    f.ids.leased = host::leased_count(f.ids.range);
  }
  // Planned as a run would be, with the range's first id standing in for the lease.
  if (auto lease_range = plan::id_lease_range(f.policy.policy, f.host, f.ids.range))
    f.host.leased_id = lease_range->first;
  if (!f.ids.range_error.empty()) f.problems.push_back(f.ids.range_error);
  if (f.host.is_root() && f.ids.free() == 0)
    f.problems.push_back("host ids: no uid of the range " + host::to_string(f.ids.range) + " is free: runs fail");

  auto plan = plan::build(f.policy.policy, f.host, {"doctor"}, {});
  if (plan) f.plan = std::move(*plan);
  else f.plan_error = plan.error().what();
  if (f.plan) {
    // As `run -w .:rw` would plan it, on a copy: the policy itself stays as it is.
    char cwd[4096];
    f.workspace.path = ::getcwd(cwd, sizeof cwd) ? cwd : "/";
    policy::Policy with = f.policy.policy;
    with.workspace = policy::Workspace{.source = f.workspace.path, .mode = policy::WorkspaceMode::rw};
    host::Host host = f.host;
    host.workspace = host::probe_workspace(f.workspace.path, host);
    plan::Plan copy = *f.plan;
    const size_t before = copy.warnings.size();
    if (auto ok = plan::plan_workspace(with, host, copy); !ok) {
      f.workspace.detail = ok.error().what();
    } else if (copy.workspace) {
      f.workspace.way = plan::to_string(copy.workspace->ownership);
      f.workspace.detail = copy.warnings.size() > before ? copy.warnings.back()
                           : copy.workspace->ownership == plan::WorkspaceOwnership::idmapped
                               ? "an idmapped mount maps its owner (uid " + std::to_string(host.workspace->uid) +
                                     ") to the jail's uid (" + host.workspace->fs_type + ")"
                               : "the jail's host uid owns it already";
    }
  }
  const plan::CgroupPlan enforcement = plan::decide_cgroup(f.policy.policy.limits, f.host);
  f.limits = limit_rows(f.policy.policy.limits, enforcement, f.host);

  if (!f.userns_error.empty())
    f.problems.push_back("user namespaces: " + f.userns_error +
                         (f.host.userns_problem.empty() ? "" : " (" + f.host.userns_problem + ")") +
                         "; agentjail run cannot work here");
  if (!f.plan_error.empty()) f.problems.push_back("plan: " + f.plan_error);
  // Only a problem of this policy when it asks for the allowlist; the row says it either way.
  if (!f.allowlist_error.empty() && f.policy.policy.network.mode == policy::NetworkMode::allowlist)
    f.problems.push_back("network.mode = \"allowlist\": " + f.allowlist_error + "; agentjail run cannot work here");
  if (f.plan)
    for (const auto& warning : f.plan->warnings) f.problems.push_back(warning);
  else
    for (const auto& warning : enforcement.warnings) f.problems.push_back(warning);
  return f;
}

std::vector<std::string> range_texts(const std::vector<host::IdRange>& ranges) {
  std::vector<std::string> out;
  for (const auto& range : ranges) out.push_back(host::to_string(range));
  return out;
}

const char* host_ids_source(const Findings& f) {
  if (!f.plan) return f.host.is_root() ? "leased" : "caller";
  switch (f.plan->host_ids) {
    case plan::HostIds::leased: return "leased";
    case plan::HostIds::policy: return "policy";
    case plan::HostIds::subordinate: return "subordinate";
    case plan::HostIds::caller: break;
  }
  return "caller";
}

json host_ids_json(const Findings& f) {
  const host::Host& h = f.host;
  const std::string source = host_ids_source(f);
  const bool leased = source == "leased" || source == "subordinate";
  json uid = f.plan && !leased ? json(f.plan->uid_map.outside) : json(nullptr);
  return {{"source", host_ids_source(f)},
          {"range", h.is_root() ? json(host::to_string(f.ids.range)) : json(nullptr)},
          {"lock_dir", host::kLeaseDir},
          {"accounts", f.ids.accounts},
          {"leased", f.ids.leased},
          {"free", h.is_root() ? json(f.ids.free()) : json(nullptr)},
          {"uid", uid},
          {"subuid", range_texts(h.subuids)},
          {"subgid", range_texts(h.subgids)},
          {"newuidmap", h.is_root() ? host::have_newidmap_tools() : h.newidmap_tools},
          {"shared", !leased}};
}

// One line: where the jail's host uid comes from here, and what it shares.
std::pair<std::string, std::string> host_ids_row(const Findings& f) {
  const host::Host& h = f.host;
  const std::string source = host_ids_source(f);
  if (source == "leased") {
    std::string detail = "a uid and gid of its own per jail from " + host::to_string(f.ids.range) + " (" +
                         std::to_string(f.ids.range.count) + " ids";
    if (f.ids.accounts) detail += ", " + std::to_string(f.ids.accounts) + " used by accounts";
    detail += f.ids.leased < 0 ? ", leases unreadable" : ", " + std::to_string(f.ids.leased) + " leased now";
    detail += ", " + (f.ids.free() < 0 ? std::string("?") : std::to_string(f.ids.free())) + " free; locks in " +
              host::kLeaseDir + ")";
    return {f.ids.free() == 0 ? "full" : "per jail", detail};
  }
  if (source == "subordinate")
    return {"per jail", "a subordinate uid and gid of the caller's own per jail, from " +
                            join(range_texts(h.subuids), " ") + " (/etc/subuid, mapped by newuidmap; locks in " +
                            host::lease_dir_for(h.euid) + ")"};
  if (source == "policy")
    return {"policy", "process.host_user " + std::to_string(f.plan->uid_map.outside) +
                          ": every jail of this policy shares that uid"};
  std::string detail = "the caller's own uid " + std::to_string(h.euid) + ": its other processes can signal the jail";
  detail += "; subordinate ids: " + (h.subuids.empty() ? std::string("none") : join(range_texts(h.subuids), " "));
  detail += std::string("; newuidmap/newgidmap: ") +
            (h.newidmap_tools ? "usable" : "not usable (the uidmap package, no_new_privs, the bounding set)");
  return {"shared", detail};
}

json to_json(const Findings& f) {
  const host::Host& h = f.host;
  json v1 = json::object();
  for (const auto& [name, c] : h.cgroup_v1) {
    v1[name] = {{"path", c.self_dir()}, {"writable", c.writable}, {"problem", text_or_null(c.problem)}};
    if (name == "memory") v1[name]["memsw"] = c.memsw;
  }
  const auto& v2 = h.cgroup_v2;
  json limits = json::object();
  for (const auto& row : f.limits) limits[row.name] = {{"value", row.value}, {"enforced_by", row.how}, {"full", row.full}};
  const plan::CgroupPlan e = plan::decide_cgroup(f.policy.policy.limits, h);
  return {
      {"schema", 1},
      {"agentjail", AGENTJAIL_VERSION},
      {"kernel", h.kernel},
      {"caller", {{"uid", h.uid}, {"euid", h.euid}, {"root", h.is_root()}}},
      {"userns",
       {{"available", f.userns_error.empty()},
        {"unprivileged", h.is_root() ? f.unprivileged_error.empty() : f.userns_error.empty()},
        {"error", text_or_null(f.userns_error.empty() ? f.unprivileged_error : f.userns_error)},
        {"problem", text_or_null(h.userns_problem)}}},
      {"cgroup",
       {{"v2",
         {{"mounted", v2.mounted}, {"mount", v2.mount}, {"cgroup", v2.self}, {"writable", v2.writable},
          {"available", v2.available}, {"delegated", v2.delegated}, {"problem", text_or_null(v2.problem)}}},
        {"v1", v1},
        {"clone_into_cgroup", h.clone_into_cgroup},
        {"kill", h.cgroup_kill},
        {"memory_peak", h.memory_peak},
        {"stale_removed", f.stale_removed}}},
      {"seccomp", {{"filter", h.seccomp}, {"user_notify", h.seccomp_notify}}},
      {"network",
       {{"allowlist", f.allowlist_error.empty()}, {"ipv6", f.allowlist_error.empty() && f.allowlist_ipv6},
        {"error", text_or_null(f.allowlist_error)}}},
      {"host_ids", host_ids_json(f)},
      {"workspace",
       {{"path", f.workspace.path},
        {"rw_ownership", text_or_null(f.workspace.way)},
        {"detail", text_or_null(f.workspace.detail)}}},
      {"landlock",
       {{"abi", h.landlock_abi},
        {"used", f.plan && f.plan->landlock.abi > 0},
        {"abi_used", f.plan ? f.plan->landlock.abi : 0},
        {"mode", policy::to_string(f.policy.policy.landlock)},
        {"not_enforced", f.plan ? f.plan->landlock.not_enforced : std::vector<std::string>{}}}},
      {"policy",
       {{"name", f.policy.policy.name},
        {"source", f.policy.source},
        {"cgroup", plan::to_string(e.kind)},
        {"limits", limits},
        {"warnings", f.plan ? f.plan->warnings : e.warnings},
        {"notes", e.notes}}},
      {"ok", f.ok()},
      {"problems", f.problems},
  };
}

const char* yes_no(bool value) { return value ? "yes" : "no"; }

std::string userns_detail(const Findings& f) {
  const host::Host& h = f.host;
  std::string out = f.userns_error.empty() ? "created one as uid " + std::to_string(h.euid) : f.userns_error;
  if (h.is_root())
    out += "; ordinary users: " + std::string(f.unprivileged_error.empty() ? "yes (tested as uid 65534)"
                                                                            : "no: " + f.unprivileged_error);
  if (!h.userns_problem.empty()) out += "; " + h.userns_problem;
  return out;
}

std::string v2_detail(const host::CgroupV2& v2) {
  if (!v2.mounted) return v2.problem;
  std::string out = v2.mount + ", our cgroup " + v2.self + "; delegated: " +
                    (v2.delegated.empty() ? std::string("none") : join(v2.delegated, " "));
  if (!v2.problem.empty()) out += "; " + v2.problem;
  return out;
}

std::string v1_detail(const host::Host& h, bool* any_writable) {
  std::vector<std::string> parts;
  *any_writable = false;
  for (const auto& [name, c] : h.cgroup_v1) {
    *any_writable = *any_writable || c.writable;
    parts.push_back(name + " " + (c.writable ? c.self_dir() : "no (" + c.problem + ")"));
  }
  return parts.empty() ? "no cgroup v1 hierarchy is mounted" : join(parts, "; ");
}

// What `run` would enforce with the policy: the ABI it uses and the rights this kernel lacks.
std::string landlock_detail(const Findings& f) {
  const std::string mode = std::string("landlock = \"") + policy::to_string(f.policy.policy.landlock) + "\"";
  if (!f.plan) return mode + ": " + f.plan_error;
  const plan::LandlockPlan& landlock = f.plan->landlock;
  if (!landlock.enabled) return mode + ": no ruleset";
  if (landlock.abi == 0) return mode + ": no ruleset, the mounts alone fence the filesystem";
  std::string out = mode + ": a ruleset of ABI " + std::to_string(landlock.abi) + " over the mounts";
  if (landlock.not_enforced.empty()) return out + ", every right enforced";
  return out + "; not enforced here: " + join(landlock.not_enforced, ", ");
}

void print_table(const Findings& f) {
  const host::Host& h = f.host;
  auto line = [](const std::string& item, const std::string& state, const std::string& detail) {
    std::printf("  %-18s %-8s %s\n", item.c_str(), state.c_str(), detail.c_str());
  };
  std::printf("agentjail %s doctor: kernel %s, uid %u\n\n", AGENTJAIL_VERSION, h.kernel.c_str(),
              static_cast<unsigned>(h.euid));
  line("user namespaces", yes_no(f.userns_error.empty()), userns_detail(f));
  const auto& v2 = h.cgroup_v2;
  line("cgroup v2", !v2.mounted ? "no" : v2.problem.empty() ? "yes" : v2.writable ? "partial" : "no", v2_detail(v2));
  bool v1_writable = false;
  std::string v1 = v1_detail(h, &v1_writable);
  line("cgroup v1", yes_no(v1_writable), v1);
  line("clone into cgroup", yes_no(h.clone_into_cgroup), "clone3(CLONE_INTO_CGROUP), kernel 5.7+");
  line("cgroup.kill", yes_no(h.cgroup_kill), "kernel 5.14+; without it every pid is SIGKILLed in turn");
  line("seccomp", yes_no(h.seccomp), std::string("user notification: ") + yes_no(h.seccomp_notify));
  line("landlock", h.landlock_abi ? "ABI " + std::to_string(h.landlock_abi) : "no", landlock_detail(f));
  auto [ids_state, ids_detail] = host_ids_row(f);
  line("host ids", ids_state, ids_detail);
  line("net allowlist", yes_no(f.allowlist_error.empty()),
       f.allowlist_error.empty()
           ? std::string("network namespace, AnyIP routes and listeners: ok (IPv6: ") + yes_no(f.allowlist_ipv6) + ")"
           : f.allowlist_error);
  line("workspace rw", f.workspace.way.empty() ? "no" : f.workspace.way,
       (f.workspace.path.empty() ? std::string() : "-w " + f.workspace.path + ":rw: ") + f.workspace.detail);
  line("stale cgroups", std::to_string(f.stale_removed), "removed (left by SIGKILLed runs)");

  const plan::CgroupPlan e = plan::decide_cgroup(f.policy.policy.limits, h);
  std::printf("\npolicy %s (%s), cgroup %s:\n", f.policy.policy.name.c_str(), f.policy.source.c_str(),
              plan::to_string(e.kind));
  for (const auto& row : f.limits) {
    if (row.value.is_null())
      std::printf("  %-11s %s\n", row.name.c_str(), row.shown.c_str());
    else
      std::printf("  %-11s %-10s %-6s %s\n", row.name.c_str(), row.shown.c_str(), row.full ? "yes" : "weaker",
                  row.how.c_str());
  }
  if (!e.notes.empty()) {
    std::printf("\nnotes:\n");
    for (const auto& note : e.notes) std::printf("  - %s\n", note.c_str());
  }
  if (f.ok()) {
    std::printf("\nresult: this policy is enforced in full here\n");
    return;
  }
  std::printf("\nresult: weaker than the policy asks:\n");
  for (const auto& problem : f.problems) std::printf("  - %s\n", problem.c_str());
}

}  // namespace

Runner add_doctor(CLI::App& root) {
  struct Options {
    std::string policy = "default";
    bool json = false;
    bool verbose = false;
    std::string uid_range;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = root.add_subcommand("doctor", "What this host can enforce, and how it would enforce a policy");
  cmd->add_option("-p,--policy", options->policy, "Policy file (.toml) or built-in name")->capture_default_str();
  cmd->add_flag("--json", options->json, "Print one JSON object instead of the table");
  cmd->add_flag("-v,--verbose", options->verbose, "Log each stale cgroup removed (stderr)");
  cmd->add_option("--uid-range", options->uid_range,
                  "The host uid range to show, as run --uid-range takes it (default 1879048192-1879113727, or "
                  "AGENTJAIL_UID_RANGE)")
      ->type_name("FIRST-LAST");
  cmd->footer("Exit status: 0 when the policy is enforced in full here, 1 when something would be weaker "
              "(listed), 125 when the policy does not load.");
  return [options] {
    log::init(options->verbose ? log::Level::verbose : log::Level::normal);
    policy::Diagnostics diagnostics;
    auto loaded = policy::load(options->policy, diagnostics);
    for (const auto& diagnostic : diagnostics) log::error_line(diagnostic.format());
    if (!loaded) return report::kExitSetupError;
    if (!options->uid_range.empty())  // bad input of ours; a bad AGENTJAIL_UID_RANGE is a finding
      if (auto range = host::configured_id_range(options->uid_range); !range) {
        log::error_line(range.error().what());
        return report::kExitSetupError;
      }
    Findings findings = examine(std::move(*loaded), options->uid_range);
    if (options->json)
      std::printf("%s\n", to_json(findings).dump(2).c_str());
    else
      print_table(findings);
    return findings.ok() ? 0 : report::kExitUsageProblem;
  };
}

}  // namespace aj::cli
