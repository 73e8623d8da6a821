/* open_tree(/tmp, OPEN_TREE_CLONE): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <fcntl.h>

int main(void) {
  return probe_report("open_tree(/tmp, OPEN_TREE_CLONE)", syscall(SYS_open_tree, AT_FDCWD, "/tmp", 1 /* OPEN_TREE_CLONE */));
}
