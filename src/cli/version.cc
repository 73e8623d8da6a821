#include <seccomp.h>

#include <CLI/Version.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/version.h>
#include <toml++/toml.h>

#include "base/version.h"
#include "cli/commands.h"

namespace aj::cli {

std::string version_text() {
  const scmp_version* seccomp = seccomp_version();
  std::string text = "agentjail " AGENTJAIL_VERSION "\n";
  text += "libseccomp " + std::to_string(seccomp->major) + "." + std::to_string(seccomp->minor) + "." +
          std::to_string(seccomp->micro) + " (runtime)\n";
  text += "toml++ " + std::to_string(TOML_LIB_MAJOR) + "." + std::to_string(TOML_LIB_MINOR) + "." +
          std::to_string(TOML_LIB_PATCH) + "\n";
  text += "CLI11 " CLI11_VERSION "\n";
  text += "spdlog " + std::to_string(SPDLOG_VER_MAJOR) + "." + std::to_string(SPDLOG_VER_MINOR) + "." +
          std::to_string(SPDLOG_VER_PATCH) + "\n";
  text += "nlohmann_json " + std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
          std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_PATCH);
  return text;
}

}  // namespace aj::cli
