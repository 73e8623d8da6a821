#include "plan/cwd_args.h"

#include <fmt/format.h>

#include <filesystem>

#include "base/strings.h"

namespace aj::plan {
namespace {

std::string lexically_normal(const std::string& path) {
  std::string out = std::filesystem::path(path).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// True when the jail path `target` is `path` or one of its parents.
bool covers(const std::string& target, const std::string& path) {
  if (target == "/") return true;
  return path == target || (path.size() > target.size() && path.compare(0, target.size(), target) == 0 &&
                            path[target.size()] == '/');
}

enum class Seen { yes, no, unknown };

// Whether the jail path `jail_path` shows the host file `host_path`.
Seen shows(const std::vector<MountOp>& mounts, const std::string& jail_path, const std::string& host_path) {
  for (auto op = mounts.rbegin(); op != mounts.rend(); ++op) {
    const std::string target = lexically_normal(op->target);
    if (!covers(target, jail_path)) continue;
    switch (op->kind) {
      case MountKind::read_only:
      case MountKind::overlay:
        continue;  // the same files as the mount below it (an overlay's lower layer is its bind)
      case MountKind::symlink:
        return Seen::unknown;
      case MountKind::bind: {
        const std::string rest = jail_path.substr(target == "/" ? 0 : target.size());
        return lexically_normal(op->source + rest) == host_path ? Seen::yes : Seen::no;
      }
      default:
        return Seen::no;  // a fresh filesystem or a mask: nothing of the host
    }
  }
  return Seen::no;  // the jail's own root tmpfs
}

}  // namespace

std::vector<std::string> unseen_cwd_args(const host::CallerCwd& cwd, const Plan& plan) {
  std::vector<std::string> unseen;
  for (const auto& arg : cwd.args) {
    const std::string jail_path =
        lexically_normal(arg.arg.front() == '/' ? arg.arg : (plan.cwd.empty() ? "/" : plan.cwd) + "/" + arg.arg);
    if (shows(plan.mounts, jail_path, arg.path) == Seen::no) unseen.push_back(arg.arg);
  }
  return unseen;
}

std::string unseen_cwd_args_warning(const std::vector<std::string>& unseen, const std::string& host_cwd) {
  constexpr size_t kNamed = 5;
  std::vector<std::string> named;
  bool absolute = false;
  for (size_t i = 0; i < unseen.size() && i < kNamed; ++i) {
    named.push_back(unseen[i]);
    absolute = absolute || unseen[i].front() == '/';
  }
  std::string names = join(named, ", ");
  if (unseen.size() > kNamed) names += fmt::format(" and {} more", unseen.size() - kNamed);
  const std::string fix = absolute ? fmt::format("-w .:{} (the directory at the same path)", host_cwd)
                                   : std::string("-w . (the directory at /work, where the command then starts)");
  return fmt::format(
      "the command failed, and {} {} in the caller's directory {} but not at that path in the jail: give the jail "
      "the directory with {}",
      names, unseen.size() == 1 ? "is" : "are", host_cwd, fix);
}

}  // namespace aj::plan
