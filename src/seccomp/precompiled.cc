#include "seccomp/precompiled.h"

namespace aj::seccomp {

Result<Filter> filter_for(const FilterSpec& spec, bool* precompiled) {
  if (precompiled) *precompiled = false;
  const std::string digest = spec_digest(spec);
  for (const PrecompiledFilter& entry : precompiled_filters()) {
    if (entry.digest != digest) continue;
    if (precompiled) *precompiled = true;
    return Filter{{entry.program.begin(), entry.program.end()}, entry.notify};
  }
  return compile(spec);
}

}  // namespace aj::seccomp
