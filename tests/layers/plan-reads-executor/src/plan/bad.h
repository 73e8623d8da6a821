// A planted violation: the planner depending on an executor. tests/CMakeLists.txt expects
// scripts/check-layers.py to reject this tree.
#include "seccomp/filter.h"
