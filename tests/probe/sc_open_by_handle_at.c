/* open_by_handle_at(): opens files by inode handle, bypassing the jail's mounts (the "shocker"
 * escape); refused by the filter. The handle is the root inode's, which is what an attacker
 * would start from. */
#include "sc_probe.h"
#include <fcntl.h>

int main(void) {
  struct {
    struct file_handle handle;
    unsigned char bytes[8];
  } buffer;
  memset(&buffer, 0, sizeof buffer);
  buffer.handle.handle_bytes = 8;
  buffer.handle.handle_type = 1; /* FILEID_INO32_GEN */
  buffer.bytes[0] = 2;           /* inode 2: the root of most filesystems */
  int mount_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mount_fd < 0) return probe_setup_failed("open /");
  return probe_report("open_by_handle_at(/, inode 2)", open_by_handle_at(mount_fd, &buffer.handle, O_RDONLY));
}
