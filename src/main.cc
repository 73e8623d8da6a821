// agentjail: run one untrusted command in a jail built from a TOML policy.
#include "cli/commands.h"

int main(int argc, char** argv) { return aj::cli::main(argc, argv); }
