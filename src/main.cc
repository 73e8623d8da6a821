// agentjail: run one untrusted command in a jail built from a TOML policy.
#include <signal.h>

#include <cstring>

#include "cli/commands.h"
#include "sys/process.h"

namespace {

// `run` takes the signals that end it over before anything else: one that arrives while the
// options are parsed stays pending until the run's signalfd reads it, and ends the jail with
// a report, instead of killing agentjail by the default action with none (agentjail(1),
// SIGNALS). A constructor of the first priority, so that it runs before the static
// initialisers of the libraries; glibc passes it main's arguments.
__attribute__((constructor(101))) void take_over_signals_first(int argc, char** argv, char**) {
  if (argc > 1 && argv && argv[1] && std::strcmp(argv[1], "run") == 0) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, sig);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  aj::sys::remember_argv(argc, argv);  // so the jail's init can hide our command line from the jail
  return aj::cli::main(argc, argv);
}
