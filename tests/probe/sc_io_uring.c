/* io_uring_setup(4): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <linux/io_uring.h>

int main(void) {
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  return probe_report("io_uring_setup(4)", syscall(SYS_io_uring_setup, 4, &params));
}
