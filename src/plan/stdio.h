// Standard streams the command can reopen (/dev/stdout, /dev/stderr, /proc/self/fd/0..2): the
// kernel checks such an open against the file's owner and mode as if it were opened by name,
// and run by root the jail's host uid is not the owner of the caller's pipes and files. Which
// of the caller's descriptors the jail gets as they are and which through a relay of pipes the
// jail's uid owns is decided here, from what fstat says of them (man agentjail(1), STANDARD
// STREAMS).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "plan/plan.h"

namespace aj::plan {

// fstat of one of the caller's descriptors that becomes the command's 0, 1 or 2.
struct StreamFacts {
  bool open = false;      // fstat succeeded
  bool terminal = false;  // isatty
  mode_t mode = 0;        // st_mode
  uid_t uid = 0;
  gid_t gid = 0;
};

// Whether the jail's host uid and gid could reopen the file through /proc/self/fd by its mode
// bits (for writing or for reading).
bool reopenable(const StreamFacts& facts, uint32_t host_uid, uint32_t host_gid, bool for_write);

// Whether the stream goes through a relay: a pipe or a file the jail's uid cannot reopen. Not
// a terminal (a pipe would take isatty() from the command: it keeps the caller's terminal),
// not a socket (no one can reopen a socket through /proc, on the host either), not a closed
// descriptor.
bool needs_relay(const StreamFacts& facts, const Plan& plan, bool for_write);

}  // namespace aj::plan
