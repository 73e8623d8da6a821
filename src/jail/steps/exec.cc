// Resolving the command inside the jail, as a shell would: 127 not found, 126 not executable.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/strings.h"
#include "jail/steps/steps.h"

namespace aj::jail::steps {

Status resolve_command(ChildContext& ctx) {
  // Decided here, before the filter, so "not found" (127) and "not executable" (126) are
  // told apart the way a shell does, from inside the jail's own filesystem.
  const std::string& name = ctx.plan.argv.front();
  auto executable = [](const std::string& path) -> int {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return errno == EACCES ? EACCES : ENOENT;
    if (S_ISDIR(st.st_mode)) return EACCES;
    if (::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) != 0) return EACCES;
    return 0;
  };
  if (name.find('/') != std::string::npos) {
    int err = executable(name);
    if (err) return fail(err, name);
    ctx.exec_path = name;
    return {};
  }
  int first_error = ENOENT;
  for (const auto& dir : split(ctx.plan.path_env, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    int err = executable(candidate);
    if (err == 0) {
      ctx.exec_path = candidate;
      return {};
    }
    if (err == EACCES) first_error = EACCES;
  }
  return fail(first_error, name);
}

}  // namespace aj::jail::steps
