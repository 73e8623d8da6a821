# bash completion for agentjail(1).
# Completes subcommands, their options, built-in policy names (asked of `agentjail policies`
# at completion time, so a newer binary's policies appear without updating this file), .toml
# files, option values, and after "--" the jailed command and its arguments.

_agentjail_policies() {
  # The first word of each line of `agentjail policies`; nothing if the binary fails.
  "${1:-agentjail}" policies 2>/dev/null | while IFS=$' \t' read -r name _; do printf '%s\n' "$name"; done
}

_agentjail() {
  local cur prev words cword
  _init_completion -n := || return

  local i cmd="" dashdash=0
  for ((i = 1; i < cword; i++)); do
    if [[ ${words[i]} == -- ]]; then
      dashdash=$i
      break
    fi
    if [[ -z $cmd && ${words[i]} != -* ]]; then
      cmd=${words[i]}
    fi
  done

  # After "--": the jailed command, completed like any command line.
  if ((dashdash > 0)); then
    _command_offset $((dashdash + 1))
    return
  fi

  case $prev in
    -p | --policy)
      local IFS=$'\n'
      COMPREPLY=($(compgen -W "$(_agentjail_policies "${words[0]}")" -- "$cur"))
      _filedir toml
      return
      ;;
    --report | --audit-log | --token-file)
      _filedir
      return
      ;;
    --ro | --rw | -w | --workspace)
      # SRC[:DST[:MODE]]: complete the host path before the colon.
      if [[ $cur != *:* ]]; then
        _filedir
      fi
      return
      ;;
    --landlock-max-abi)
      COMPREPLY=($(compgen -W "0 1 2 3 4 5 6" -- "$cur"))
      return
      ;;
    --changes | --state-dir | --cache-dir)
      _filedir -d
      return
      ;;
    --tmpfs | --cwd | --allow | --uid-range | --server | --server-allow)
      return
      ;;
    --net)
      COMPREPLY=($(compgen -W "none loopback host allowlist" -- "$cur"))
      return
      ;;
    --format)
      COMPREPLY=($(compgen -W "bpf pfc" -- "$cur"))
      return
      ;;
    --time | --cpu-time)
      COMPREPLY=($(compgen -W "500ms 10s 30s 1m 10m unlimited" -- "$cur"))
      return
      ;;
    --memory)
      COMPREPLY=($(compgen -W "64MiB 256MiB 1GiB unlimited" -- "$cur"))
      return
      ;;
    --pids)
      COMPREPLY=($(compgen -W "16 64 256 unlimited" -- "$cur"))
      return
      ;;
    --env)
      compopt -o nospace
      COMPREPLY=($(compgen -e -S = -- "$cur"))
      return
      ;;
  esac

  local opts
  case $cmd in
    "")
      COMPREPLY=($(compgen -W "run check policies doctor seccomp serve mcp ci --help --version" -- "$cur"))
      return
      ;;
    run)
      opts="-p --policy --json --report --audit-log --ro --rw -w --workspace --changes --tmpfs --cwd --env
            --net --allow --time --cpu-time --memory --pids --landlock-max-abi --uid-range -v --verbose -q --quiet
            -h --help --"
      ;;
    check) opts="-p --policy --json -h --help" ;;
    doctor) opts="-p --policy --json -v --verbose --uid-range -h --help" ;;
    seccomp) opts="-p --policy --format --sets --no-notify -h --help" ;;
    policies) opts="-h --help" ;;
    serve)
      opts="--socket --socket-mode --socket-group -p --policy --pool --max-jails --queue --max-body --listen
            --token-file --allow-uid --allow-client-policies --grace --audit-log --uid-range -v --verbose -q --quiet
            -h --help"
      ;;
    mcp) opts="-p --policy --pool --max-jails -v --verbose -h --help" ;;
    ci)
      # agentjail ci gitlab config|prepare|run|cleanup [options] (run: SCRIPT STAGE).
      local rest=() w
      for w in "${words[@]:2:cword-2}"; do [[ $w != -* ]] && rest+=("$w"); done
      case ${#rest[@]} in
        0) COMPREPLY=($(compgen -W "gitlab -h --help" -- "$cur")); return ;;
        1) COMPREPLY=($(compgen -W "config prepare run cleanup -h --help" -- "$cur")); return ;;
      esac
      opts="-p --policy --state-dir --cache-dir -v --verbose -h --help"
      [[ ${rest[1]} == run ]] && opts+=" --server --server-allow"
      ;;
    *) return ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}

complete -F _agentjail agentjail
