#include "plan/mounts.h"

#include "plan/budgets.h"

#include <cstdio>

namespace aj::plan {
namespace {

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%o", mode);
  return buf;
}

using FsOptions = std::vector<std::pair<std::string, std::string>>;

FsOptions tmpfs_options(uint32_t mode, std::optional<uint64_t> size) {
  FsOptions options{{"mode", octal(mode)}};
  if (size) options.emplace_back("size", std::to_string(*size));
  return options;
}

// A mask over a directory is an empty tmpfs nobody can write, as small as the kernel allows.
const FsOptions kMaskDirOptions = {{"mode", "555"}, {"size", "4096"}};

// "policy.toml:12:1" or "--ro": where a mount was asked for.
std::string origin_of(const policy::SourcePos& pos) {
  if (pos.file.empty()) return "";
  if (!pos.known()) return pos.file;
  return pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
}

// The parts of procfs that leak host information or accept writes that matter even from
// inside a user namespace. The lists follow runc's and crun's defaults (masked paths and
// read-only paths), plus kallsyms, kmsg and vmallocinfo. Entries a kernel lacks are skipped.
constexpr const char* kProcMaskedFiles[] = {
    "kcore", "kallsyms", "kmsg", "keys", "key-users", "latency_stats", "timer_list", "timer_stats",
    "sched_debug", "vmallocinfo", "config.gz", "pagetypeinfo", "slabinfo",
};
constexpr const char* kProcMaskedDirs[] = {"acpi", "asound", "scsi", "firmware", "driver"};
constexpr const char* kProcReadOnly[] = {"sys", "sysrq-trigger", "irq", "bus", "fs"};

// The host's device nodes bound into /dev: harmless character devices every program expects.
constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};

void add_proc(std::vector<MountOp>& ops, const policy::Mount& mount) {
  ops.push_back({.kind = MountKind::proc, .target = mount.target, .noexec = true});
  for (const char* name : kProcMaskedFiles)
    ops.push_back({.kind = MountKind::mask, .target = join_path(mount.target, name), .optional = true});
  for (const char* name : kProcMaskedDirs)
    ops.push_back({.kind = MountKind::mask, .target = join_path(mount.target, name), .optional = true,
                   .fs_options = kMaskDirOptions});
  for (const char* name : kProcReadOnly)
    ops.push_back({.kind = MountKind::read_only, .target = join_path(mount.target, name), .optional = true});
}

void add_dev(std::vector<MountOp>& ops, const policy::Mount& mount) {
  const std::string& dev = mount.target;
  // A small tmpfs holds the mount points and links; it is made read-only once populated.
  ops.push_back({.kind = MountKind::tmpfs, .target = dev, .noexec = true, .fs_options = tmpfs_options(0755, 64 * 1024)});
  for (const char* name : kDevices)
    ops.push_back({.kind = MountKind::bind, .source = join_path("/dev", name), .target = join_path(dev, name),
                   .noexec = true, .nodev = false});
  // A private devpts instance: the jail's ptys are its own, the host's are invisible. ptmx is
  // the jail user's to open (0666); new ptys are its own, readable by it only (0620, no tty group).
  // Every devpts instance draws from kernel.pty.max, one budget for the host: `max` bounds the
  // jail's share, so that a jail opening ptys in a loop leaves the host's and other jails'.
  ops.push_back({.kind = MountKind::devpts, .target = join_path(dev, "pts"), .noexec = true, .nodev = false,
                 .fs_options = {{"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"},
                                {"max", std::to_string(kJailPtys)}}});
  ops.push_back({.kind = MountKind::symlink, .source = "pts/ptmx", .target = join_path(dev, "ptmx")});
  ops.push_back({.kind = MountKind::tmpfs, .target = join_path(dev, "shm"), .noexec = true,
                 .fs_options = tmpfs_options(01777, 64ull << 20)});
  ops.push_back({.kind = MountKind::symlink, .source = "/proc/self/fd", .target = join_path(dev, "fd")});
  ops.push_back({.kind = MountKind::symlink, .source = "/proc/self/fd/0", .target = join_path(dev, "stdin")});
  ops.push_back({.kind = MountKind::symlink, .source = "/proc/self/fd/1", .target = join_path(dev, "stdout")});
  ops.push_back({.kind = MountKind::symlink, .source = "/proc/self/fd/2", .target = join_path(dev, "stderr")});
  ops.push_back({.kind = MountKind::read_only, .target = dev});
}

}  // namespace

std::string join_path(const std::string& base, const std::string& rest) {
  if (base.empty() || base.back() != '/') return base + "/" + rest;
  return base + rest;
}

namespace {

// "/a//b/./c/../d/" -> "/a/b/d": the path without symlink resolution.
std::string lexical(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t next = path.find('/', i);
    if (next == std::string::npos) next = path.size();
    std::string part = path.substr(i, next - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(std::move(part));
    }
    i = next + 1;
  }
  std::string out;
  for (const auto& part : parts) out += "/" + part;
  return out.empty() ? "/" : out;
}

// The kernel filesystem `path` is at or below, or nullptr.
const char* kernel_fs_of(const std::string& path) {
  const std::string p = lexical(path);
  for (const char* top : {"/proc", "/sys", "/dev"}) {
    const std::string_view t(top);
    if (p == t || (p.size() > t.size() && p.starts_with(t) && p[t.size()] == '/')) return top;
  }
  return nullptr;
}

}  // namespace

Status check_host_kernel_binds(const std::vector<MountOp>& mounts, std::vector<std::string>& warnings) {
  for (const auto& op : mounts) {
    // The binds of /dev's device nodes come from the `dev` mount itself, not from a policy bind.
    if (op.kind != MountKind::bind || !op.nodev) continue;
    const char* source = kernel_fs_of(op.source);
    const char* target = kernel_fs_of(op.target);
    if (!source && !target) continue;
    const std::string what = "bind " + op.source + ":" + op.target + (op.origin.empty() ? "" : " (" + op.origin + ")");
    const std::string why = source ? std::string("its source is the host's ") + source
                                   : std::string("it would cover the jail's own ") + target;
    if (!op.host_kernel_fs)
      return fail(EINVAL, what + ": refused: " + why +
                              " (set unsafe_host_kernel_fs = true on a [[filesystem.mount]] to allow it; "
                              "see agentjail-policy(5))");
    warnings.push_back(what + ": unsafe_host_kernel_fs: " + why + ", not agentjail's isolated view");
  }
  return {};
}

std::vector<MountOp> expand_mounts(const std::vector<policy::Mount>& mounts) {
  std::vector<MountOp> ops;
  for (const auto& mount : mounts) {
    switch (mount.type) {
      case policy::MountType::bind:
        ops.push_back({.kind = MountKind::bind, .source = mount.source, .target = mount.target,
                       .read_only = mount.read_only, .optional = mount.optional, .noexec = !mount.exec,
                       .origin = origin_of(mount.pos), .host_kernel_fs = mount.unsafe_host_kernel_fs});
        break;
      case policy::MountType::tmpfs:
        ops.push_back({.kind = MountKind::tmpfs, .target = mount.target, .read_only = mount.read_only,
                       .noexec = !mount.exec, .fs_options = tmpfs_options(mount.mode.value_or(0755), mount.size)});
        break;
      case policy::MountType::proc: add_proc(ops, mount); break;
      case policy::MountType::dev: add_dev(ops, mount); break;
      case policy::MountType::symlink:
        ops.push_back({.kind = MountKind::symlink, .source = mount.source, .target = mount.target});
        break;
      case policy::MountType::file:
        ops.push_back({.kind = MountKind::file, .target = mount.target, .read_only = true, .noexec = !mount.exec,
                       .mode = 0444, .content = mount.content, .origin = origin_of(mount.pos)});
        break;
    }
  }
  return ops;
}

}  // namespace aj::plan
