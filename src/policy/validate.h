// The invariants every effective Policy satisfies, whatever produced it: the TOML decoder,
// the command-line overrides or a test. The planner relies on them.
#pragma once

#include "policy/diagnostic.h"
#include "policy/model.h"

namespace aj::policy {

// Appends one diagnostic per broken invariant (located at the mount for mount problems);
// returns true when there was none.
bool validate(const Policy& policy, Diagnostics& diagnostics);

}  // namespace aj::policy
