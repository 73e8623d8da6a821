// A planted violation: an executor reading the policy. tests/CMakeLists.txt expects
// scripts/check-layers.py to reject this tree.
#include "policy/model.h"
