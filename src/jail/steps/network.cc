// network.mode = "allowlist", the jail's side (net/jail_side.h, docs/network.md): lo up with the
// AnyIP routes, so that every TCP connection and DNS datagram to any address lands on a
// listener; the listeners are sent to the supervisor, whose broker decides and relays.
#include "jail/steps/steps.h"
#include "jail/sync.h"
#include "net/jail_side.h"

namespace aj::jail::steps {

Status network_allowlist(ChildContext& ctx) {
  if (!ctx.plan.allowlist) return {};
  auto anyip = net::bring_up_anyip();
  if (!anyip) return std::unexpected(anyip.error());
  auto ports = net::listener_ports(*ctx.plan.allowlist);
  if (!ports) return std::unexpected(ports.error());
  auto fds = net::make_listeners(*ports, anyip->ipv6);
  if (!fds) return std::unexpected(fds.error());
  for (auto& fd : *fds) {
    Msg msg;
    msg.type = MsgType::net_listener;
    msg.value = anyip->ipv6 ? 1 : 0;
    if (int e = send_msg(ctx.sync_fd, msg, fd.get()); e < 0) return fail(-e, "send a network listener to agentjail");
  }
  // The fds close here: no process of the jail holds one (it could accept the jail's own
  // connections before the broker does).
  return {};
}

}  // namespace aj::jail::steps
