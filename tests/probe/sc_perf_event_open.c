/* perf_event_open(self, task-clock): must be refused by the seccomp filter. */
#include "sc_probe.h"
#include <linux/perf_event.h>

int main(void) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.exclude_kernel = 1;
  return probe_report("perf_event_open(self, task-clock)", syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}
