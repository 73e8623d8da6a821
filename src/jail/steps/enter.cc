// Entering the new root, and the namespaces' own settings: hostname, loopback.
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "jail/steps/steps.h"
#include "sys/fd.h"

namespace aj::jail::steps {

Status pivot_root(ChildContext& ctx) {
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves the
  // host's whole tree unreachable, without needing a put_old directory in the jail.
  if (::fchdir(ctx.root_fd) != 0) return fail_errno("chdir to the new root");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return fail_errno("pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) return fail_errno("detach the old root");
  if (::chdir("/") != 0) return fail_errno("chdir /");
  ::close(ctx.root_fd);
  ctx.root_fd = -1;
  // The root tmpfs holds only mount points: read-only, so the jail writes where the policy
  // gave it a writable mount and nowhere else.
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) != 0) return fail_errno("make / read-only");
  return {};
}

Status set_hostname(ChildContext& ctx) {
  const std::string& name = ctx.plan.hostname;
  if (name.empty()) return {};
  if (::sethostname(name.c_str(), name.size()) != 0) return fail_errno("sethostname " + name);
  return {};
}

Status bring_up_loopback(ChildContext& ctx) {
  if (!ctx.plan.loopback_up) return {};
  sys::UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return fail_errno("socket for lo");
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &req) != 0) return fail_errno("get lo flags");
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &req) != 0) return fail_errno("bring lo up");
  return {};
}

}  // namespace aj::jail::steps
