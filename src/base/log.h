// agentjail's own messages on stderr: "agentjail: ..." lines, level set by -v/-q.
#pragma once

#include <spdlog/spdlog.h>

namespace aj::log {

enum class Level { quiet, normal, verbose, debug };

// Installs a single-threaded stderr logger (we must stay single-threaded until clone).
void init(Level level);
Level level();

// `text` on stderr, every line of it prefixed "agentjail: ", whatever the level (errors are
// never silenced).
void error_line(const std::string& text);

}  // namespace aj::log
