#include "policy/model.h"

namespace aj::policy {

const char* to_string(MountType type) {
  switch (type) {
    case MountType::bind: return "bind";
    case MountType::tmpfs: return "tmpfs";
    case MountType::proc: return "proc";
    case MountType::dev: return "dev";
    case MountType::symlink: return "symlink";
    case MountType::file: return "file";
  }
  return "?";
}

const char* to_string(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::none: return "none";
    case NetworkMode::loopback: return "loopback";
    case NetworkMode::host: return "host";
    case NetworkMode::allowlist: return "allowlist";
  }
  return "?";
}

const char* to_string(SeccompAction action) {
  switch (action) {
    case SeccompAction::errno_: return "errno";
    case SeccompAction::kill: return "kill";
    case SeccompAction::log: return "log";
  }
  return "?";
}

const char* to_string(WorkspaceMode mode) {
  switch (mode) {
    case WorkspaceMode::ro: return "ro";
    case WorkspaceMode::rw: return "rw";
    case WorkspaceMode::overlay: return "overlay";
  }
  return "?";
}

const char* to_string(LandlockMode mode) {
  switch (mode) {
    case LandlockMode::off: return "off";
    case LandlockMode::best_effort: return "best-effort";
    case LandlockMode::required: return "required";
  }
  return "?";
}

}  // namespace aj::policy
