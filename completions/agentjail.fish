# fish completion for agentjail(1): subcommands, their options, built-in policy names (from
# `agentjail policies` at completion time), .toml files, and the jailed command after "--".

function __agentjail_policies
    agentjail policies 2>/dev/null | string replace -r '^(\S+)\s+(.*)$' '$1\t$2'
    # .toml files and directories to descend into; for/glob expand to nothing without a match.
    set -l token (commandline -ct | string replace -r -- '^--policy=' '')
    for path in $token*.toml $token*/
        printf '%s\n' $path
    end
end

# True before "--": after it, the words belong to the jailed command.
function __agentjail_before_dashdash
    not contains -- -- (commandline -opc)
end

# True when the subcommand is $argv[1] and we are still in agentjail's own options.
function __agentjail_in
    __fish_seen_subcommand_from $argv[1]; and __agentjail_before_dashdash
end

# After "--", complete the jailed command and its arguments as a command line of its own.
function __agentjail_after_dashdash
    set -l words (commandline -opc) (commandline -ct)
    set -l i (contains -i -- -- $words); or return
    set -l rest $words[(math $i + 1)..-1]
    complete -C (string join -- ' ' (string escape -- $rest))
end

set -l commands run check policies doctor seccomp serve mcp ci
complete -c agentjail -f
complete -c agentjail -n "not __fish_seen_subcommand_from $commands" -a run -d 'Run a command in a jail'
complete -c agentjail -n "not __fish_seen_subcommand_from $commands" -a check -d 'Validate a policy, print it with defaults'
complete -c agentjail -n "not __fish_seen_subcommand_from $commands" -a policies -d 'List the built-in policies'
complete -c agentjail -n "not __fish_seen_subcommand_from $commands" -a doctor -d 'What this host can enforce'
complete -c agentjail -n "not __fish_seen_subcommand_from $commands" -a seccomp -d 'Print the compiled seccomp filter'
complete -c agentjail -n "not __fish_seen_subcommand_from $commands" -a serve -d 'Run jails for clients of an HTTP API'
complete -c agentjail -n "not __fish_seen_subcommand_from $commands" -a mcp -d 'Serve run_code and run_command over MCP'
complete -c agentjail -n "not __fish_seen_subcommand_from $commands" -a ci -d 'CI drivers: ci gitlab config|prepare|run|cleanup'
complete -c agentjail -n "not __fish_seen_subcommand_from $commands" -l version -d 'Print the version'
complete -c agentjail -s h -l help -n __agentjail_before_dashdash -d 'Print help'

for cmd in run check doctor seccomp serve mcp
    complete -c agentjail -n "__agentjail_in $cmd" -s p -l policy -x -a '(__agentjail_policies)' -d 'Policy file or built-in name'
end
complete -c agentjail -n '__agentjail_in check; or __agentjail_in doctor' -l json -d 'Print JSON'
complete -c agentjail -n '__agentjail_in doctor' -s v -l verbose -d 'Explain each row'
complete -c agentjail -n '__agentjail_in run; or __agentjail_in doctor; or __agentjail_in serve' -l uid-range -x -d 'FIRST-LAST: host uids to lease'

complete -c agentjail -n '__agentjail_in run' -l json -d 'Capture output, print one JSON report'
complete -c agentjail -n '__agentjail_in run' -l report -r -F -d 'Also write the report JSON here'
complete -c agentjail -n '__agentjail_in run' -l audit-log -r -F -d 'Append one JSON line per run here'
complete -c agentjail -n '__agentjail_in run' -l ro -r -F -d 'Read-only bind mount SRC[:DST]'
complete -c agentjail -n '__agentjail_in run' -l rw -r -F -d 'Read-write bind mount SRC[:DST]'
complete -c agentjail -n '__agentjail_in run' -s w -l workspace -r -F -d 'The workspace SRC[:DST[:MODE]]'
complete -c agentjail -n '__agentjail_in run' -l changes -r -a '(__fish_complete_directories)' -d 'Overlay: copy the changed files here'
complete -c agentjail -n '__agentjail_in run' -l tmpfs -x -d 'Add a tmpfs DST[:SIZE]'
complete -c agentjail -n '__agentjail_in run' -l cwd -x -d 'Working directory inside the jail'
complete -c agentjail -n '__agentjail_in run' -l env -x -a '(set -n | string replace -r \'$\' =)' -d 'NAME=VALUE in the jail'
complete -c agentjail -n '__agentjail_in run' -l net -x -a 'none loopback host allowlist' -d 'Network mode'
complete -c agentjail -n '__agentjail_in run' -l allow -x -d 'With --net allowlist: HOST[:PORT]'
complete -c agentjail -n '__agentjail_in run' -l time -x -a '500ms 10s 30s 1m 10m unlimited' -d 'Wall time limit'
complete -c agentjail -n '__agentjail_in run' -l cpu-time -x -a '1s 10s 1m unlimited' -d 'CPU time limit'
complete -c agentjail -n '__agentjail_in run' -l memory -x -a '64MiB 256MiB 1GiB unlimited' -d 'Memory limit'
complete -c agentjail -n '__agentjail_in run' -l pids -x -a '16 64 256 unlimited' -d 'Process limit'
complete -c agentjail -n '__agentjail_in run' -l landlock-max-abi -x -a '0 1 2 3 4 5 6' -d 'For testing: at most this Landlock ABI'
complete -c agentjail -n '__agentjail_in run' -s v -l verbose -d 'Log each setup step'
complete -c agentjail -n '__agentjail_in run' -s q -l quiet -d 'Print only errors'
complete -c agentjail -n '__agentjail_in run' -a -- -d 'End of options: the command follows'

complete -c agentjail -n '__agentjail_in seccomp' -l format -x -a 'bpf pfc' -d 'Output format'
complete -c agentjail -n '__agentjail_in seccomp' -l sets -d 'List the syscall sets'
complete -c agentjail -n '__agentjail_in seccomp' -l no-notify -d 'Compile without a notification listener'

complete -c agentjail -n '__agentjail_in serve' -l socket -r -F -d 'Unix socket to listen on'
complete -c agentjail -n '__agentjail_in serve' -l socket-mode -x -a '0600 0660 0666' -d 'Permission bits of the socket'
complete -c agentjail -n '__agentjail_in serve' -l socket-group -x -a '(__fish_complete_groups)' -d 'Group of the socket'
complete -c agentjail -n '__agentjail_in serve; or __agentjail_in mcp' -l pool -x -d 'NAME=N: keep N jails ready'
complete -c agentjail -n '__agentjail_in serve; or __agentjail_in mcp' -l max-jails -x -d 'Runs at once'
complete -c agentjail -n '__agentjail_in serve' -l queue -x -d 'Requests that may wait'
complete -c agentjail -n '__agentjail_in serve' -l max-body -x -a '1MiB 16MiB 64MiB' -d 'Largest request body'
complete -c agentjail -n '__agentjail_in serve' -l listen -x -d 'ADDR:PORT: serve TCP too'
complete -c agentjail -n '__agentjail_in serve' -l token-file -r -F -d 'Bearer token for --listen'
complete -c agentjail -n '__agentjail_in serve' -l allow-uid -x -d 'Only these uids may run'
complete -c agentjail -n '__agentjail_in serve' -l allow-client-policies -d 'Accept a policy in a request'
complete -c agentjail -n '__agentjail_in serve' -l grace -x -a '1s 10s 1m' -d 'On SIGTERM, how long runs may finish'
complete -c agentjail -n '__agentjail_in serve' -l audit-log -r -F -d 'Append one JSON line per run here'
complete -c agentjail -n '__agentjail_in serve; or __agentjail_in mcp' -s v -l verbose -d 'Log each request'
complete -c agentjail -n '__agentjail_in serve' -s q -l quiet -d 'Print only errors'

# agentjail ci gitlab config|prepare|run|cleanup
complete -c agentjail -n '__fish_seen_subcommand_from ci; and not __fish_seen_subcommand_from gitlab' -a gitlab -d 'GitLab Runner custom executor'
complete -c agentjail -n '__fish_seen_subcommand_from gitlab; and not __fish_seen_subcommand_from config prepare run cleanup' -a 'config prepare run cleanup'
complete -c agentjail -n '__fish_seen_subcommand_from gitlab' -s p -l policy -x -a '(__agentjail_policies)' -d 'Policy of every stage'
complete -c agentjail -n '__fish_seen_subcommand_from gitlab' -l state-dir -r -a '(__fish_complete_directories)' -d 'One directory per job'
complete -c agentjail -n '__fish_seen_subcommand_from gitlab' -l cache-dir -r -a '(__fish_complete_directories)' -d 'Shared /cache'
complete -c agentjail -n '__fish_seen_subcommand_from gitlab' -s v -l verbose -d 'Log each stage'
complete -c agentjail -n '__fish_seen_subcommand_from gitlab; and __fish_seen_subcommand_from run' -l server -x -d 'The GitLab instance URL'
complete -c agentjail -n '__fish_seen_subcommand_from gitlab; and __fish_seen_subcommand_from run' -l server-allow -x -d 'Another HOST[:PORT]'

complete -c agentjail -n 'not __agentjail_before_dashdash' -x -a '(__agentjail_after_dashdash)'
