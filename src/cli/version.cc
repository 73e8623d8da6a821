// `agentjail --version`: our version and every library that decides what we parse or enforce,
// so a bug report says exactly what the binary was built with.
#include <nettle/version.h>
#include <seccomp.h>
#include <sys/capability.h>

#include <CLI/Version.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/version.h>
#include <toml++/toml.h>

#include "base/version.h"
#include "cli/commands.h"

namespace aj::cli {

std::string version_text() {
  // libseccomp is a shared library: the one loaded at run time decides which system calls the
  // filter can name, so print it next to the headers we were compiled against.
  const scmp_version* seccomp = seccomp_version();
  std::string text = "agentjail " AGENTJAIL_VERSION "\n";
  text += fmt::format("libseccomp {}.{}.{} (built with {}.{}.{})\n", seccomp->major, seccomp->minor, seccomp->micro,
                      SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO);
  text += fmt::format("libcap {}.{}\n", LIBCAP_MAJOR, LIBCAP_MINOR);
  text += fmt::format("toml++ {}.{}.{}\n", TOML_LIB_MAJOR, TOML_LIB_MINOR, TOML_LIB_PATCH);
  text += "CLI11 " CLI11_VERSION "\n";
  text += fmt::format("spdlog {}.{}.{}\n", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH);
  text += fmt::format("fmt {}.{}.{}\n", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100);
  text += fmt::format("nlohmann_json {}.{}.{}\n", NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
                      NLOHMANN_JSON_VERSION_PATCH);
  text += fmt::format("nettle {}.{}", nettle_version_major(), nettle_version_minor());
  return text;
}

}  // namespace aj::cli
