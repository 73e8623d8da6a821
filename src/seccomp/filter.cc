// compile(): rules (rules.cc) -> libseccomp context -> BPF bytes read back from a memfd.
#include "seccomp/filter.h"

#include <fmt/format.h>
#include <nettle/sha2.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "seccomp/rules.h"
#include "sys/fd.h"

namespace aj::seccomp {
namespace {

struct ContextDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Context = std::unique_ptr<void, ContextDeleter>;

Result<Context> build_context(const detail::RuleSet& set) {
  Context ctx(seccomp_init(set.default_action));
  if (!ctx) return fail(EINVAL, "seccomp_init");
  // i386 (int 0x80) and x32 (nr | 0x40000000) calls: libseccomp checks the architecture
  // first and sends every non-native call to this action.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, set.refusal); rc < 0)
    return fail(-rc, "set the foreign-architecture action");
  // The child sets no_new_privs itself, in its ordered steps, and installs the exported BPF.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0) return fail(-rc, "clear CTL_NNP");
  // Binary tree of syscall numbers: O(log n) comparisons instead of a linear scan of ~300.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc < 0)
    return fail(-rc, "select the binary-tree layout");
  for (const auto& rule : set.rules) {
    int rc = seccomp_rule_add_exact_array(ctx.get(), rule.action, rule.nr, static_cast<unsigned>(rule.conditions.size()),
                                          rule.conditions.data());
    if (rc < 0) return fail(-rc, fmt::format("add the rule for {}", rule.name));
  }
  return ctx;
}

Result<Context> context_for(const SeccompSpec& spec) {
  auto rules = detail::build_rules(spec);
  if (!rules) return std::unexpected(rules.error());
  return build_context(*rules);
}

// libseccomp 2.5 exports only to a file descriptor: let it write into a memfd, read it back.
Result<std::string> export_via_memfd(void* ctx, bool bpf) {
  sys::UniqueFd fd(::memfd_create("agentjail-seccomp", MFD_CLOEXEC));
  if (!fd) return fail_errno("memfd_create");
  int rc = bpf ? seccomp_export_bpf(ctx, fd.get()) : seccomp_export_pfc(ctx, fd.get());
  if (rc < 0) return fail(-rc, bpf ? "seccomp_export_bpf" : "seccomp_export_pfc");
  off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size < 0) return fail_errno("lseek the exported filter");
  std::string bytes(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pread(fd.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read the exported filter");
    if (n == 0) return fail(EIO, "the exported filter is shorter than its size");
    done += static_cast<size_t>(n);
  }
  return bytes;
}

void hash_field(sha256_ctx& ctx, std::string_view text) {
  // Length-prefixed, so {"ab", "c"} and {"a", "bc"} hash differently.
  uint64_t size = text.size();
  sha256_update(&ctx, sizeof size, reinterpret_cast<const uint8_t*>(&size));
  sha256_update(&ctx, text.size(), reinterpret_cast<const uint8_t*>(text.data()));
}

}  // namespace

Result<Filter> compile(const SeccompSpec& spec) {
  auto ctx = context_for(spec);
  if (!ctx) return std::unexpected(ctx.error().context("compile the seccomp filter"));
  auto bytes = export_via_memfd(ctx->get(), true);
  if (!bytes) return std::unexpected(bytes.error().context("compile the seccomp filter"));
  if (bytes->empty() || bytes->size() % sizeof(sock_filter) != 0)
    return fail(EPROTO, fmt::format("compile the seccomp filter: {} bytes of BPF is not a whole program", bytes->size()));
  // The kernel refuses longer programs (BPF_MAXINSNS); say so here, not in the child.
  if (bytes->size() / sizeof(sock_filter) > BPF_MAXINSNS)
    return fail(E2BIG, fmt::format("compile the seccomp filter: {} instructions, the kernel takes at most {}",
                                   bytes->size() / sizeof(sock_filter), BPF_MAXINSNS));
  Filter filter;
  filter.notify = spec.notify;
  filter.program.resize(bytes->size() / sizeof(sock_filter));
  std::memcpy(filter.program.data(), bytes->data(), bytes->size());
  return filter;
}

Result<std::string> export_pfc(const SeccompSpec& spec) {
  auto ctx = context_for(spec);
  if (!ctx) return std::unexpected(ctx.error().context("export the seccomp filter"));
  auto text = export_via_memfd(ctx->get(), false);
  if (!text) return std::unexpected(text.error().context("export the seccomp filter"));
  return text;
}

std::string spec_digest(const SeccompSpec& spec) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  // Bump the tag whenever what a SeccompSpec compiles to changes for the same fields.
  hash_field(ctx, "agentjail-seccomp-spec-3");
  hash_field(ctx, std::to_string(static_cast<int>(spec.default_action)));
  hash_field(ctx, std::to_string(spec.errno_value));
  hash_field(ctx, spec.notify ? "notify" : "no-notify");
  hash_field(ctx, std::to_string(static_cast<int>(spec.network)));
  hash_field(ctx, std::to_string(spec.sync_fd));
  hash_field(ctx, std::to_string(spec.allow.size()));
  for (const auto& entry : spec.allow) hash_field(ctx, entry);
  hash_field(ctx, std::to_string(spec.deny.size()));
  for (const auto& entry : spec.deny) hash_field(ctx, entry);
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof digest, digest);
  std::string hex;
  for (uint8_t byte : digest) hex += fmt::format("{:02x}", byte);
  return hex;
}

Result<Filter> FilterCache::get(const SeccompSpec& spec) {
  std::string key = spec_digest(spec);
  if (auto it = filters_.find(key); it != filters_.end()) {
    ++hits_;
    return it->second;
  }
  auto filter = compile(spec);
  if (!filter) return filter;
  ++misses_;
  filters_.emplace(std::move(key), *filter);
  return filter;
}

}  // namespace aj::seccomp
