// agentjail: run one untrusted command in a jail built from a TOML policy.
#include "cli/commands.h"
#include "sys/process.h"

int main(int argc, char** argv) {
  aj::sys::remember_argv(argc, argv);  // so the jail's init can hide our command line from the jail
  return aj::cli::main(argc, argv);
}
