// The host side of a workspace, before the jail starts and after it ends: the idmapped mount
// only the supervisor can make, the overlay's upper and work directories agentjail owns, the
// directory that keeps the changes. Carries out Plan::workspace, decides nothing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "jail/child.h"
#include "plan/plan.h"
#include "sys/fd.h"

namespace aj::workspace {

// Owns what prepare() made; the destructor removes the scratch directory (upper, work and
// everything the jail wrote there) without following anything the jail planted.
class Prepared {
 public:
  Prepared() = default;
  Prepared(Prepared&&) noexcept = default;
  Prepared& operator=(Prepared&&) noexcept = default;
  ~Prepared();

  // Per Plan::mounts entry, for jail::spawn.
  const std::vector<jail::PreparedMount>& mounts() const { return mounts_; }
  int upper() const { return upper_.get(); }        // overlay: the upper directory (O_RDONLY), else -1
  int keep() const { return keep_.get(); }          // keep_changes: the (empty) directory, else -1
  const std::string& scratch() const { return scratch_path_; }

 private:
  friend Result<Prepared> prepare(const plan::Plan& plan);
  std::vector<jail::PreparedMount> mounts_;
  std::vector<sys::UniqueFd> owned_;   // the fds mounts_ refers to
  sys::UniqueFd scratch_parent_, upper_, keep_;
  std::string scratch_name_, scratch_path_;
};

// Makes what the plan's workspace needs on the host side: with nothing to do (no workspace,
// a plain bind) an empty Prepared. Errors name the workspace: they are setup errors (125).
Result<Prepared> prepare(const plan::Plan& plan);

}  // namespace aj::workspace
