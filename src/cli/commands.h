// The subcommands. Each add_* registers its CLI11 subcommand on `root` and returns the
// function that runs it once the command line has been parsed; it returns the exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace aj::cli {

using Runner = std::function<int()>;

Runner add_check(CLI::App& root);
Runner add_policies(CLI::App& root);
Runner add_run(CLI::App& root, std::vector<std::string>& command);  // command: the words after "--"
// `run` refused before anything started (its command line did not parse): the one `agentjail:`
// line on stderr and, with --json, the setup_error report agentjail(1) promises; returns 125.
int reject_run(const std::string& message, bool json, std::vector<std::string> command);
Runner add_doctor(CLI::App& root);
Runner add_seccomp(CLI::App& root);
Runner add_ci(CLI::App& root);  // agentjail ci gitlab ...: cli/ci.cc

// `--version`: agentjail's version and the libraries it was built with.
std::string version_text();

// The whole CLI: parse argv, dispatch, map CLI errors to exit 125.
int main(int argc, char** argv);

}  // namespace aj::cli
