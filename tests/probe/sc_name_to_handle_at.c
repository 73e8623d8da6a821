/* name_to_handle_at(): first half of the "shocker" escape; refused by the filter. */
#include "sc_probe.h"
#include <fcntl.h>

int main(void) {
  struct {
    struct file_handle handle;
    unsigned char bytes[128];
  } buffer;
  int mount_id = 0;
  buffer.handle.handle_bytes = sizeof buffer.bytes;
  return probe_report("name_to_handle_at(/)", name_to_handle_at(AT_FDCWD, "/", &buffer.handle, &mount_id, 0));
}
