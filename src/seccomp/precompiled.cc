#include "seccomp/precompiled.h"

#include <seccomp.h>

#include <fmt/format.h>

namespace aj::seccomp {

namespace {

std::string runtime_libseccomp() {
  const scmp_version* version = seccomp_version();
  return fmt::format("{}.{}.{}", version->major, version->minor, version->micro);
}

}  // namespace

Result<Filter> filter_for(const SeccompSpec& spec, bool* precompiled) {
  if (precompiled) *precompiled = false;
  static const bool same_libseccomp = runtime_libseccomp() == precompiled_with_libseccomp();
  if (!same_libseccomp) return compile(spec);
  const std::string digest = spec_digest(spec);
  for (const PrecompiledFilter& entry : precompiled_filters()) {
    if (entry.digest != digest) continue;
    if (precompiled) *precompiled = true;
    return Filter{{entry.program.begin(), entry.program.end()}, entry.notify};
  }
  return compile(spec);
}

}  // namespace aj::seccomp
