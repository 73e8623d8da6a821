/* process_vm_readv() of our own memory: harmless to the kernel, refused by the filter anyway. */
#include "sc_probe.h"
#include <sys/uio.h>

int main(void) {
  char source[8] = "secret", target[8] = {0};
  struct iovec local = {target, sizeof target}, remote = {source, sizeof source};
  return probe_report("process_vm_readv(self)", process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
}
