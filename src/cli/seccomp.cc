// `agentjail seccomp`: print the filter a policy compiles to, or the syscall sets.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "base/log.h"
#include "cli/commands.h"
#include "policy/load.h"
#include "report/exit_codes.h"
#include "seccomp/filter.h"
#include "seccomp/notify.h"
#include "syscalls/sets.h"
#include "plan/build.h"
#include "sys/files.h"

namespace aj::cli {
namespace {

constexpr const char* kFooter =
    "The filter is the one `agentjail run` installs on this host for the policy: with "
    "seccomp.notify and a kernel that supports user notification, refused calls go to a "
    "listener that agentjail answers. bwrap has no listener: under `bwrap --seccomp FD` those "
    "calls fail with ENOSYS instead of seccomp.errno, and violations are not recorded. Use "
    "--no-notify for a filter that answers refused calls itself (seccomp.errno, or kill).";

// Wraps `words` at `width` columns after an indent.
std::string wrapped(const std::vector<std::string>& words, size_t indent, size_t width) {
  std::string out(indent, ' ');
  size_t column = indent;
  for (size_t i = 0; i < words.size(); ++i) {
    if (column > indent && column + 1 + words[i].size() > width) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    }
    out += words[i];
    column += words[i].size();
  }
  return out + "\n";
}

std::string sets_text() {
  std::string out;
  for (const auto& set : syscalls::sets()) {
    out += std::string(set.name) + " - " + std::string(set.description) + "\n";
    std::vector<std::string> members(set.members.begin(), set.members.end());
    out += wrapped(members, 4, 100);
  }
  auto section = [&](const char* title, std::span<const syscalls::SpecialCall> calls) {
    out += std::string("\n") + title + "\n";
    for (const auto& call : calls) out += "    " + std::string(call.name) + ": " + std::string(call.why) + "\n";
  };
  section("Always refused, whatever allow says:", syscalls::always_denied());
  section("Allowed only with harmless arguments:", syscalls::argument_checked());
  section("Always allowed (the jail needs them to start the command):", syscalls::always_allowed());
  section("Answered with ENOSYS:", syscalls::enosys());
  return out;
}

int write_stdout(std::string_view bytes) {
  if (auto status = sys::write_all(STDOUT_FILENO, bytes); !status) {
    log::error_line("seccomp: " + status.error().context("write to stdout").what());
    return report::kExitSetupError;
  }
  return 0;
}

}  // namespace

Runner add_seccomp(CLI::App& root) {
  struct Options {
    std::string policy = "default";
    std::string format = "pfc";
    bool sets = false;
    bool no_notify = false;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = root.add_subcommand("seccomp", "Print the seccomp filter a policy compiles to (BPF or readable PFC)");
  cmd->add_option("-p,--policy", options->policy, "Policy file (.toml) or built-in name")->capture_default_str();
  cmd->add_option("--format", options->format,
                  "bpf: the raw program, e.g. for `bwrap --seccomp 3 3<file`; pfc: libseccomp's readable form")
      ->check(CLI::IsMember({"bpf", "pfc"}))
      ->capture_default_str();
  cmd->add_flag("--sets", options->sets, "List the syscall sets and the calls treated specially, then exit");
  cmd->add_flag("--no-notify", options->no_notify,
                "Compile without a user-notification listener, as on a kernel without one (for bwrap)");
  cmd->footer(kFooter);

  return [options] {
    if (options->sets) return write_stdout(sets_text());

    policy::Diagnostics diagnostics;
    auto loaded = policy::load(options->policy, diagnostics);
    for (const auto& diagnostic : diagnostics) log::error_line(diagnostic.format());
    if (!loaded) return report::kExitSetupError;

    bool notify = !options->no_notify && seccomp::notify_supported();
    auto spec = plan::seccomp_spec(loaded->policy, notify);
    if (options->format == "pfc") {
      auto text = seccomp::export_pfc(spec);
      if (!text) {
        log::error_line("seccomp: " + text.error().what());
        return report::kExitSetupError;
      }
      return write_stdout(*text);
    }
    // Raw BPF on a terminal is noise at best and an escape-sequence injection at worst.
    if (::isatty(STDOUT_FILENO)) {
      log::error_line("seccomp: refusing to write binary BPF to a terminal; redirect stdout to a file");
      return report::kExitSetupError;
    }
    auto filter = seccomp::compile(spec);
    if (!filter) {
      log::error_line("seccomp: " + filter.error().what());
      return report::kExitSetupError;
    }
    return write_stdout({reinterpret_cast<const char*>(filter->program.data()),
                         filter->program.size() * sizeof(sock_filter)});
  };
}

}  // namespace aj::cli
