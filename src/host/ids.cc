#include "host/ids.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <charconv>

#include "base/strings.h"
#include "sys/files.h"

namespace aj::host {
namespace {

constexpr uint32_t kNobody = 65534;

std::optional<uint32_t> parse_u32(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  while (true) {
    auto colon = line.find(':');
    out.push_back(line.substr(0, colon));
    if (colon == std::string_view::npos) return out;
    line.remove_prefix(colon + 1);
  }
}

template <typename F>
void each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line[0] != '#') f(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

void add_id(IdsInUse& used, std::string_view text) {
  if (auto id = parse_u32(text)) used.add({*id, 1});
}

// Opens (creating) `name` in `dir` as a directory only root or `owner` can change: never
// through a symlink, and refused when someone else owns it or may write it.
Result<sys::UniqueFd> open_owned_dir(int dir, const std::string& name, uid_t owner, const std::string& shown) {
  if (::mkdirat(dir, name.c_str(), owner == 0 ? 0755 : 0700) != 0 && errno != EEXIST) return fail_errno("mkdir " + shown);
  sys::UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return fail_errno("open " + shown);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("fstat " + shown);
  // Sticky (/tmp): others may write it but cannot rename or remove what root made in it.
  if ((st.st_uid != 0 && st.st_uid != owner) || ((st.st_mode & 022) != 0 && !(st.st_mode & S_ISVTX)))
    return fail(EPERM, shown + " must be a directory of " + (owner == 0 ? std::string("root's") : "root's or uid " +
                       std::to_string(owner) + "'s") + " that nobody else can write");
  return fd;
}

Result<sys::UniqueFd> open_lease_dir(const std::string& dir, bool create) {
  const uid_t owner = ::geteuid();
  if (dir.empty() || dir[0] != '/') return fail(EINVAL, "the lease directory must be absolute: " + dir);
  sys::UniqueFd at(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!at) return fail_errno("open /");
  std::string shown;
  for (auto part : split(std::string_view(dir).substr(1), '/')) {
    if (part.empty()) continue;
    shown += "/" + part;
    if (!create) {
      sys::UniqueFd next(::openat(at.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next) return fail_errno("open " + shown);
      at = std::move(next);
      continue;
    }
    auto next = open_owned_dir(at.get(), part, owner, shown);
    if (!next) return std::unexpected(next.error());
    at = std::move(*next);
  }
  return at;
}

uint32_t random_below(uint32_t bound) {
  uint32_t value = 0;
  if (::getrandom(&value, sizeof value, GRND_NONBLOCK) != sizeof value)
    value = static_cast<uint32_t>(::getpid()) * 2654435761u;
  return bound == 0 ? 0 : value % bound;
}

}  // namespace

Result<IdRange> parse_id_range(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(EINVAL, "uid range \"" + std::string(text) + "\": " + why);
  };
  auto dash = text.find('-');
  if (dash == std::string_view::npos) return bad("expected FIRST-LAST, e.g. 1879048192-1879113727");
  auto first = parse_u32(text.substr(0, dash)), last = parse_u32(text.substr(dash + 1));
  if (!first || !last) return bad("FIRST and LAST must be numbers");
  if (*first == 0) return bad("0 is root's uid");
  if (*last < *first) return bad("LAST is below FIRST");
  if (*last == UINT32_MAX) return bad("4294967295 is not a valid uid");
  IdRange range{*first, *last - *first + 1};
  if (range.contains(kNobody)) return bad("65534 is nobody's uid, which no jail may share");
  return range;
}

std::string to_string(const IdRange& range) {
  return std::to_string(range.first) + "-" + std::to_string(range.last());
}

Result<IdRange> configured_id_range(const std::string& flag) {
  if (!flag.empty()) {
    auto range = parse_id_range(flag);
    if (!range) return std::unexpected(range.error().context("--uid-range"));
    return range;
  }
  const char* env = ::getenv(kIdRangeEnv);
  if (!env || !*env) return kDefaultJailIds;
  auto range = parse_id_range(env);
  if (!range) return std::unexpected(range.error().context(kIdRangeEnv));
  return range;
}

bool IdsInUse::contains(uint32_t id) const {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), id,
                             [](uint32_t value, const IdRange& range) { return value < range.first; });
  return it != ranges.begin() && std::prev(it)->contains(id);
}

void IdsInUse::add(IdRange range) {
  if (range.count == 0) return;
  ranges.push_back(range);
  std::sort(ranges.begin(), ranges.end(), [](const IdRange& a, const IdRange& b) { return a.first < b.first; });
  std::vector<IdRange> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && uint64_t{merged.back().last()} + 1 >= r.first) {
      uint32_t last = std::max(merged.back().last(), r.last());
      merged.back().count = last - merged.back().first + 1;
    } else {
      merged.push_back(r);
    }
  }
  ranges = std::move(merged);
}

void add_passwd_ids(IdsInUse& used, std::string_view passwd) {
  each_line(passwd, [&](std::string_view line) {
    auto f = fields(line);
    if (f.size() < 4) return;
    add_id(used, f[2]);
    add_id(used, f[3]);
  });
}

void add_group_ids(IdsInUse& used, std::string_view group) {
  each_line(group, [&](std::string_view line) {
    auto f = fields(line);
    if (f.size() >= 3) add_id(used, f[2]);
  });
}

void add_subid_ranges(IdsInUse& used, std::string_view subid) {
  each_line(subid, [&](std::string_view line) {
    auto f = fields(line);
    if (f.size() != 3) return;
    auto first = parse_u32(f[1]), count = parse_u32(f[2]);
    if (!first || !count || *count == 0) return;
    // Clamp at the top of the id space rather than wrap.
    uint64_t end = std::min<uint64_t>(uint64_t{*first} + *count, UINT32_MAX);
    used.add({*first, static_cast<uint32_t>(end - *first)});
  });
}

IdsInUse read_ids_in_use() {
  IdsInUse used;
  if (auto text = sys::read_file("/etc/passwd")) add_passwd_ids(used, *text);
  if (auto text = sys::read_file("/etc/group")) add_group_ids(used, *text);
  if (auto text = sys::read_file("/etc/subuid")) add_subid_ranges(used, *text);
  if (auto text = sys::read_file("/etc/subgid")) add_subid_ranges(used, *text);
  return used;
}

std::vector<IdRange> subid_ranges_of(std::string_view subid, std::string_view name, uint32_t id) {
  std::vector<IdRange> out;
  const std::string id_text = std::to_string(id);
  each_line(subid, [&](std::string_view line) {
    auto f = fields(line);
    if (f.size() != 3 || f[0].empty() || (f[0] != name && f[0] != id_text)) return;
    auto first = parse_u32(f[1]), count = parse_u32(f[2]);
    if (!first || !count || *count == 0 || uint64_t{*first} + *count > UINT32_MAX) return;
    out.push_back({*first, *count});
  });
  return out;
}

uint64_t unused_count(const IdRange& range, const IdsInUse& used) {
  uint64_t taken = 0;
  for (const auto& r : used.ranges) {
    if (!r.overlaps(range)) continue;
    taken += uint64_t{std::min(r.last(), range.last())} - std::max(r.first, range.first) + 1;
  }
  return range.count - taken;
}

std::string lease_dir_for(uid_t euid) {
  return euid == 0 ? kLeaseDir : "/tmp/agentjail-" + std::to_string(euid) + "/uids";
}

Result<IdLease> lease_id(const IdRange& range, const IdsInUse& used, const std::string& dir) {
  if (range.count == 0) return fail(EINVAL, "the uid range is empty");
  auto at = open_lease_dir(dir, /*create=*/true);  // mkdir of an existing one: EEXIST, even read-only
  if (!at) return std::unexpected(at.error().context("lease a host uid"));
  const uint32_t start = random_below(range.count);
  for (uint32_t i = 0; i < range.count; ++i) {
    const uint32_t id = range.first + (start + i) % range.count;
    if (used.contains(id)) continue;
    const std::string name = std::to_string(id);
    // The files stay: removing one would race with a jail that has just opened it.
    sys::UniqueFd lock(::openat(at->get(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
    if (!lock && errno == EROFS) {
      // A read-only root (a container's): the image may ship the lock files, and flock needs
      // no write access. An id without its file is not available here.
      lock.reset(::openat(at->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (!lock && errno == ENOENT) continue;
    }
    if (!lock) return fail_errno("lease a host uid: open " + dir + "/" + name);
    struct stat st{};
    if (::fstat(lock.get(), &st) != 0 || !S_ISREG(st.st_mode))
      return fail(EINVAL, "lease a host uid: " + dir + "/" + name + " is not a regular file");
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) == 0) return IdLease(id, std::move(lock));
    if (errno != EWOULDBLOCK) return fail_errno("lease a host uid: flock " + dir + "/" + name);
  }
  return fail(EAGAIN, "every host uid of the range " + to_string(range) +
                          " is in use by a running jail or an account (widen it with --uid-range or " +
                          kIdRangeEnv + ")");
}

int64_t leased_count(const IdRange& range, const std::string& dir) {
  auto at = open_lease_dir(dir, /*create=*/false);
  if (!at) return at.error().code == ENOENT ? 0 : -1;
  DIR* listing = ::fdopendir(::dup(at->get()));
  if (!listing) return -1;
  int64_t count = 0;
  while (dirent* entry = ::readdir(listing)) {
    auto id = parse_u32(entry->d_name);
    if (!id || !range.contains(*id)) continue;
    sys::UniqueFd lock(::openat(at->get(), entry->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (lock && ::flock(lock.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) ++count;
  }
  ::closedir(listing);
  return count;
}

bool have_newidmap_tools() {
  // Setuid root or with file capabilities, as the distribution installs them: executable is
  // what can be checked without running them. Either way they gain CAP_SETUID/CAP_SETGID at
  // exec, which no_new_privs or a bounding set without them (a container's) rules out: every
  // run would then fail, where the caller's own ids still work.
  // A nosuid mount ignores setuid bits and file capabilities alike.
  for (const char* path : {"/usr/bin/newuidmap", "/usr/bin/newgidmap"}) {
    struct statvfs fs{};
    if (::access(path, X_OK) != 0 || ::statvfs(path, &fs) != 0 || (fs.f_flag & ST_NOSUID)) return false;
  }
  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) return false;
  return ::prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) == 1 && ::prctl(PR_CAPBSET_READ, CAP_SETGID, 0, 0, 0) == 1;
}

}  // namespace aj::host
