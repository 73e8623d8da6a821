// The jail's side channel to the supervisor: one SOCK_SEQPACKET socketpair, fixed-size
// messages (one per datagram, so they never tear), an optional fd via SCM_RIGHTS.
// The child never just dies: it reports the failing step, errno and message here.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/error.h"
#include "sys/fd.h"

namespace aj::jail {

enum class MsgType : uint32_t {
  go = 1,         // parent -> init: id maps written, cgroups attached; start building the jail
  setup_error,    // init or command child -> parent: `step` failed with `error` and `text`
  step_done,      // -v only: `step` finished, `value` = microseconds it took
  listener,       // command child -> parent: the seccomp user-notify fd rides along
  exec_error,     // command child -> parent: execve failed with `error`; `value` = 126 or 127
  started,        // init -> parent: the command child exists, `value` = its pid in the jail
  exited,         // init -> parent: the command ended; `value` = its wait status
  // A pooled jail (jail/handoff.h): built and waiting for its command.
  waiting,        // init -> parent: every step before the command is done; send it now
  stdio,          // parent -> init: the fd riding along becomes the command's fd `value` (0-2)
  command,        // parent -> init: a memfd of `value` bytes holds the command (encode_command)
  exec,           // command child -> parent: every step done, execve next (the wall limit starts)
  net_listener,   // init -> parent (allowlist): one listening socket rides along; `value` = 1 if
                  // the jail has IPv6 (its ::/0 AnyIP route)
};

struct Msg {
  MsgType type{};
  int32_t error = 0;
  int64_t value = 0;
  char step[32] = {};
  char text[480] = {};

  void set_step(std::string_view name);
  void set_text(std::string_view message);
  std::string_view step_name() const;
  std::string_view message() const;
};

// Async-signal-safe: usable in the cloned child. Returns 0 or -errno.
int send_msg(int fd, const Msg& msg, int pass_fd = -1) noexcept;

struct Received {
  Msg msg;
  sys::UniqueFd fd;  // set when the message carried one
};
// Reads one message; std::nullopt at EOF (every sender is gone).
Result<std::optional<Received>> recv_msg(int fd);

}  // namespace aj::jail
