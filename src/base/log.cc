#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include "base/strings.h"

namespace aj::log {
namespace {
Level g_level = Level::normal;
}

void init(Level level) {
  g_level = level;
  // stderr_sink_st: no mutex, no thread; the pattern keeps every line "agentjail: ...".
  auto logger = std::make_shared<spdlog::logger>("agentjail", std::make_shared<spdlog::sinks::stderr_sink_st>());
  logger->set_pattern("agentjail: %v");
  switch (level) {
    case Level::quiet: logger->set_level(spdlog::level::err); break;
    case Level::normal: logger->set_level(spdlog::level::warn); break;
    case Level::verbose: logger->set_level(spdlog::level::info); break;
    case Level::debug: logger->set_level(spdlog::level::debug); break;
  }
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

Level level() { return g_level; }

void error_line(const std::string& text) {
  // Every line of a multi-line message gets the prefix; a single write, so concurrent jails
  // never interleave their lines.
  std::string lines;
  for (const auto& line : split(text, '\n')) lines += "agentjail: " + line + "\n";
  (void)!::write(STDERR_FILENO, lines.data(), lines.size());
}

}  // namespace aj::log
