#include "workspace/changes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>

#include "sys/fd.h"
#include "workspace/tree.h"

namespace aj::workspace {

const char* to_string(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::added: return "added";
    case ChangeKind::modified: return "modified";
    case ChangeKind::deleted: return "deleted";
  }
  return "?";
}

namespace {

using sys::UniqueFd;

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;

std::vector<std::string> names_of(int dir, uint64_t& budget) {
  std::vector<std::string> names;
  int copy = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  DIR* stream = copy < 0 ? nullptr : ::fdopendir(copy);
  if (!stream) {
    if (copy >= 0) ::close(copy);
    return names;
  }
  ::rewinddir(stream);
  while (dirent* entry = ::readdir(stream)) {
    std::string_view name(entry->d_name);
    if (name == "." || name == "..") continue;
    if (budget == 0) break;
    --budget;
    names.emplace_back(name);
  }
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

bool is_opaque(int dir) {
  char value[4] = {};
  for (const char* name : {"user.overlay.opaque", "trusted.overlay.opaque"}) {
    ssize_t n = ::fgetxattr(dir, name, value, sizeof value);
    if (n == 1 && value[0] == 'y') return true;
  }
  return false;
}

// One walk: the listing and the copy share the caps and the warnings.
struct Walker {
  Changes out;
  uint64_t budget = kMaxWalkEntries;
  bool path_too_long = false, too_deep = false, budget_spent = false;
  uint64_t not_kept_special = 0, not_kept_deep = 0, not_kept_failed = 0;

  void record(const std::string& path, ChangeKind kind, uint64_t bytes) {
    ++out.total;
    if (path.size() > kMaxListedPath) {
      path_too_long = true;
      return;
    }
    if (out.list.size() < kMaxListedChanges) out.list.push_back({path, kind, bytes});
  }

  // Copies the regular file `name` of `from` into `to`: opened without following, checked to
  // be the same regular file that was stat()ed, created new, permission bits only.
  bool copy_file(int from, const std::string& name, int to, const struct stat& st) {
    UniqueFd in(::openat(from, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    struct stat now {};
    if (!in || ::fstat(in.get(), &now) != 0 || !S_ISREG(now.st_mode) || now.st_ino != st.st_ino) return false;
    UniqueFd out_fd(::openat(to, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out_fd) return false;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(in.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      if (n == 0) break;
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(out_fd.get(), buf + done, static_cast<size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return false;
        done += w;
      }
    }
    return ::fchmod(out_fd.get(), st.st_mode & 0777) == 0;
  }

  // Keeps one entry (not a directory's contents): false when it is not kept.
  bool keep_entry(int from, const std::string& name, int to, const struct stat& st) {
    if (S_ISREG(st.st_mode)) return copy_file(from, name, to, st) || (++not_kept_failed, false);
    if (S_ISLNK(st.st_mode)) {
      char text[4097];
      ssize_t n = ::readlinkat(from, name.c_str(), text, sizeof text - 1);
      if (n < 0) return ++not_kept_failed, false;
      text[n] = '\0';
      return ::symlinkat(text, to, name.c_str()) == 0 || (++not_kept_failed, false);
    }
    ++not_kept_special;  // a FIFO, socket or device node: listed, never recreated
    return false;
  }

  // Copies the directory `name` of `from` and everything below it into `to`, iteratively and
  // at most kMaxWalkDepth deep.
  void keep_tree(int from, const std::string& name, int to) {
    struct Frame {
      UniqueFd src, dst;
      std::vector<std::string> names;
      size_t next = 0;
    };
    auto open_pair = [&](int src_parent, int dst_parent, const std::string& n) -> std::optional<Frame> {
      UniqueFd src(::openat(src_parent, n.c_str(), kDirFlags));
      if (!src) return std::nullopt;
      if (::mkdirat(dst_parent, n.c_str(), 0755) != 0 && errno != EEXIST) return std::nullopt;
      UniqueFd dst(::openat(dst_parent, n.c_str(), kDirFlags));
      if (!dst) return std::nullopt;
      Frame frame{std::move(src), std::move(dst), {}, 0};
      frame.names = names_of(frame.src.get(), budget);
      return frame;
    };
    std::vector<Frame> stack;
    if (auto first = open_pair(from, to, name)) stack.push_back(std::move(*first));
    else ++not_kept_failed;
    while (!stack.empty()) {
      Frame& frame = stack.back();
      if (frame.next == frame.names.size()) {
        stack.pop_back();
        continue;
      }
      const std::string entry = frame.names[frame.next++];
      struct stat st {};
      if (::fstatat(frame.src.get(), entry.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (!S_ISDIR(st.st_mode)) {
        if (!is_whiteout(st)) keep_entry(frame.src.get(), entry, frame.dst.get(), st);
        continue;
      }
      if (stack.size() >= kMaxWalkDepth) {
        ++not_kept_deep;
        continue;
      }
      if (auto child = open_pair(frame.src.get(), frame.dst.get(), entry)) stack.push_back(std::move(*child));
      else ++not_kept_failed;
    }
  }

  void walk(int upper, int lower_root, int keep_root) {
    struct Frame {
      UniqueFd upper, lower, keep;  // lower, keep: -1 when absent
      std::string path;             // relative to the target, "" at the top
      std::vector<std::string> subdirs;
      size_t next = 0;
    };
    auto list_dir = [&](Frame& frame) {
      std::vector<std::string> names = names_of(frame.upper.get(), budget);
      if (frame.lower && is_opaque(frame.upper.get())) {
        // Removed and made again: whatever the source had here and the upper lacks is gone.
        std::set<std::string> present(names.begin(), names.end());
        uint64_t lower_budget = budget;
        for (const auto& name : names_of(frame.lower.get(), lower_budget))
          if (!present.count(name)) record(frame.path + name, ChangeKind::deleted, 0);
        budget = lower_budget;
      }
      for (const auto& name : names) {
        struct stat st {}, in_lower {};
        if (::fstatat(frame.upper.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        const bool lower_has = frame.lower && ::fstatat(frame.lower.get(), name.c_str(), &in_lower, AT_SYMLINK_NOFOLLOW) == 0;
        const std::string path = frame.path + name;
        if (is_whiteout(st)) {
          if (lower_has) record(path, ChangeKind::deleted, 0);
          continue;
        }
        if (S_ISDIR(st.st_mode) && lower_has && S_ISDIR(in_lower.st_mode)) {
          frame.subdirs.push_back(name);  // changed inside, perhaps: walked below
          continue;
        }
        const ChangeKind kind = lower_has ? ChangeKind::modified : ChangeKind::added;
        record(path, kind, S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0);
        if (frame.keep) {
          if (S_ISDIR(st.st_mode)) keep_tree(frame.upper.get(), name, frame.keep.get());
          else keep_entry(frame.upper.get(), name, frame.keep.get(), st);
        }
      }
    };

    std::vector<Frame> stack;
    Frame top{UniqueFd(::fcntl(upper, F_DUPFD_CLOEXEC, 0)), UniqueFd(::fcntl(lower_root, F_DUPFD_CLOEXEC, 0)),
              UniqueFd(keep_root >= 0 ? ::fcntl(keep_root, F_DUPFD_CLOEXEC, 0) : -1), "", {}, 0};
    if (!top.upper) return;
    list_dir(top);
    stack.push_back(std::move(top));
    while (!stack.empty()) {
      Frame& frame = stack.back();
      if (frame.next == frame.subdirs.size()) {
        stack.pop_back();
        continue;
      }
      const std::string name = frame.subdirs[frame.next++];
      if (stack.size() >= kMaxWalkDepth) {
        too_deep = true;
        continue;
      }
      Frame child{UniqueFd(::openat(frame.upper.get(), name.c_str(), kDirFlags)),
                  UniqueFd(frame.lower ? ::openat(frame.lower.get(), name.c_str(), kDirFlags) : -1), UniqueFd(),
                  frame.path + name + "/", {}, 0};
      if (!child.upper) continue;
      if (frame.keep) {
        if (::mkdirat(frame.keep.get(), name.c_str(), 0755) == 0 || errno == EEXIST)
          child.keep.reset(::openat(frame.keep.get(), name.c_str(), kDirFlags));
      }
      list_dir(child);
      stack.push_back(std::move(child));
    }
  }
};

}  // namespace

Changes collect(int upper, const std::string& source, int keep) {
  Walker walker;
  UniqueFd lower(::open(source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  walker.walk(upper, lower.get(), keep);
  Changes out = std::move(walker.out);
  if (walker.budget == 0)
    out.warnings.push_back("workspace changes: more than " + std::to_string(kMaxWalkEntries) +
                           " names in the upper layer; the rest were not looked at");
  if (walker.too_deep)
    out.warnings.push_back("workspace changes: directories more than " + std::to_string(kMaxWalkDepth) +
                           " levels deep were not looked at");
  if (walker.path_too_long)
    out.warnings.push_back("workspace changes: paths longer than " + std::to_string(kMaxListedPath) +
                           " bytes are counted in changes_total but not listed");
  if (walker.not_kept_special)
    out.warnings.push_back("workspace changes: " + std::to_string(walker.not_kept_special) +
                           " FIFOs, sockets or device nodes were listed but not kept");
  if (walker.not_kept_deep)
    out.warnings.push_back("workspace changes: directories more than " + std::to_string(kMaxWalkDepth) +
                           " levels deep were not kept");
  if (walker.not_kept_failed)
    out.warnings.push_back("workspace changes: " + std::to_string(walker.not_kept_failed) +
                           " changed files could not be kept");
  return out;
}

}  // namespace aj::workspace
