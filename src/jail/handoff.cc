#include "jail/handoff.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "base/log.h"
#include "jail/sync.h"
#include "sys/files.h"

namespace aj::jail {
namespace {

void put_u64(std::string& out, uint64_t value) { out.append(reinterpret_cast<const char*>(&value), sizeof value); }
void put_string(std::string& out, std::string_view text) {
  put_u64(out, text.size());
  out.append(text);
}
void put_strings(std::string& out, const std::vector<std::string>& list) {
  put_u64(out, list.size());
  for (const auto& item : list) put_string(out, item);
}

// Reads what the put_* above wrote, every length checked against what is left.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : left_(bytes) {}
  bool u64(uint64_t& value) {
    if (left_.size() < sizeof value) return false;
    std::memcpy(&value, left_.data(), sizeof value);
    left_.remove_prefix(sizeof value);
    return true;
  }
  bool string(std::string& text) {
    uint64_t size;
    if (!u64(size) || size > left_.size()) return false;
    text.assign(left_.substr(0, size));
    left_.remove_prefix(size);
    return true;
  }
  bool strings(std::vector<std::string>& list) {
    uint64_t count;
    // Each entry takes at least its 8-byte length: a count beyond that is a lie.
    if (!u64(count) || count > left_.size() / sizeof(uint64_t)) return false;
    list.clear();
    list.reserve(count);
    for (uint64_t i = 0; i < count; ++i)
      if (!string(list.emplace_back())) return false;
    return true;
  }
  bool done() const { return left_.empty(); }

 private:
  std::string_view left_;
};

}  // namespace

std::string encode_command(const plan::Plan& plan) {
  std::string out;
  put_strings(out, plan.argv);
  put_strings(out, plan.env);
  put_string(out, plan.path_env);
  put_string(out, plan.cwd);
  put_u64(out, plan.rlimits.size());
  for (const auto& limit : plan.rlimits) {
    put_u64(out, static_cast<uint64_t>(limit.resource));
    put_u64(out, limit.soft);
    put_u64(out, limit.hard);
  }
  return out;
}

Status decode_command(std::string_view bytes, plan::Plan& plan) {
  if (bytes.size() > kMaxCommandBytes) return fail(E2BIG, "the command is too large");
  Reader in(bytes);
  std::vector<std::string> argv, env;
  std::string path, cwd;
  uint64_t count;
  const auto bad = [] { return fail(EPROTO, "malformed command for the pooled jail"); };
  if (!in.strings(argv) || !in.strings(env) || !in.string(path) || !in.string(cwd) || !in.u64(count)) return bad();
  if (argv.empty() || cwd.empty() || count > 64) return bad();
  std::vector<plan::Rlimit> rlimits;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t resource, soft, hard;
    if (!in.u64(resource) || !in.u64(soft) || !in.u64(hard) || resource > 64) return bad();
    plan::Rlimit limit{static_cast<int>(resource), "rlimit", soft, hard};
    // The name for messages, from the jail's own plan (the same resources, other values).
    for (const auto& known : plan.rlimits)
      if (known.resource == limit.resource) limit.name = known.name;
    rlimits.push_back(limit);
  }
  if (!in.done()) return bad();
  plan.argv = std::move(argv);
  plan.env = std::move(env);
  plan.path_env = std::move(path);
  plan.cwd = std::move(cwd);
  plan.rlimits = std::move(rlimits);
  return {};
}

Status await_waiting(Jail& jail) {
  while (true) {
    auto received = recv_msg(jail.sync.get());
    if (!received) return std::unexpected(received.error());
    if (!*received) return fail(EPIPE, "the jail ended before it was ready");
    const Msg& msg = (*received)->msg;
    switch (msg.type) {
      case MsgType::waiting: return {};
      case MsgType::step_done:
        spdlog::info("step {}: {:.3f} ms", msg.step_name(), static_cast<double>(msg.value) / 1000.0);
        break;
      case MsgType::setup_error: {
        std::string text = std::string(msg.step_name()) + ": " + std::string(msg.message());
        return fail(msg.error, text);
      }
      default: return fail(EPROTO, "unexpected message from a jail being built");
    }
  }
}

Status hand_over(Jail& jail, const plan::Plan& command_plan, const Stdio& stdio) {
  const int fds[3] = {stdio.in, stdio.out, stdio.err};
  for (int target = 0; target < 3; ++target) {
    if (fds[target] < 0) continue;
    Msg msg;
    msg.type = MsgType::stdio;
    msg.value = target;
    if (int rc = send_msg(jail.sync.get(), msg, fds[target]); rc < 0) return fail(-rc, "hand stdio to the jail");
  }
  const std::string bytes = encode_command(command_plan);
  if (bytes.size() > kMaxCommandBytes) return fail(E2BIG, "the command and its environment are too large");
  sys::UniqueFd memfd(::memfd_create("agentjail-command", MFD_CLOEXEC));
  if (!memfd) return fail_errno("memfd for the command");
  if (auto ok = sys::write_all(memfd.get(), bytes); !ok) return ok;
  Msg msg;
  msg.type = MsgType::command;
  msg.value = static_cast<int64_t>(bytes.size());
  if (int rc = send_msg(jail.sync.get(), msg, memfd.get()); rc < 0) return fail(-rc, "hand the command to the jail");
  return {};
}

}  // namespace aj::jail
