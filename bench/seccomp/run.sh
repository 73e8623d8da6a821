#!/bin/sh
# What agentjail's seccomp filter costs per system call: the same loop (syscall_loop.c) under
# bwrap without a filter, with a one-instruction allow-all filter (the floor: what having any
# seccomp filter costs on this kernel), with a four-instruction filter that reads ioctl's
# request (the kernel must then run the program for ioctl instead of using its cached verdict:
# what any argument check costs), with the exact filter `agentjail run` installs (exported with
# `agentjail seccomp --format bpf`), and under `agentjail run` itself; interleaved round by round
# so drift hits every variant alike. Prints medians in ns per call and the ratios of agentjail's
# filter to the unfiltered, the floor and the argument-reading runs; the budget is 5 %.
#
# Usage: bench/seccomp/run.sh [BUILD_DIR] [N] [ROUNDS]     (defaults: build, 10000000, 5)
# Needs bwrap and a C compiler with a static libc. Not a test: run it on a quiet machine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
n=${2:-10000000}
rounds=${3:-5}
agentjail=$build/agentjail

work=$(mktemp -d /tmp/aj-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cc -O2 -static -o "$work/syscall_loop" "$here/syscall_loop.c"
# The filter a run of the default policy installs here. The loop's calls are all allowed, so
# whether refused calls would go to a listener does not change what they cost.
"$agentjail" seccomp -p default --format bpf >"$work/filter.bpf"
# BPF_RET | BPF_K, SECCOMP_RET_ALLOW: the cheapest filter there is.
printf '\006\000\000\000\000\000\377\177' >"$work/floor.bpf"
# ld nr; jeq ioctl (16) ? next : skip one; ld args[1] (offset 24); ret ALLOW. It allows
# everything, but ioctl's verdict now depends on what the program reads, so it is not cached.
printf '\040\000\000\000\000\000\000\000\025\000\000\001\020\000\000\000\040\000\000\000\030\000\000\000\006\000\000\000\000\000\377\177' \
  >"$work/args.bpf"
echo "filter: $(($(wc -c <"$work/filter.bpf") / 8)) BPF instructions; $n calls per run, $rounds rounds"

jail() { bwrap --unshare-all --die-with-parent --new-session --ro-bind "$work" /b --proc /proc --dev /dev "$@"; }
ns_per_call() { awk '{print $3}'; }
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# `agentjail run` needs every module in place; measure it when it works.
with_run=0
if "$agentjail" run -q --ro "$work:/b" -- /b/syscall_loop getppid 1000 >/dev/null 2>&1; then with_run=1; fi

printf '%-8s %9s %9s %9s %9s %9s %9s %9s' kind none floor args agentjail "/none" "/floor" "/args"
[ $with_run = 1 ] && printf ' %9s %9s' run "/none"
printf '\n'
worst=0
worst_floor=0
worst_args=0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN {print (a > b) ? a : b}'; }
for kind in getppid read ioctl; do
  : >"$work/base" && : >"$work/floor" && : >"$work/args" && : >"$work/filtered" && : >"$work/run"
  round=0
  while [ $round -lt "$rounds" ]; do
    jail /b/syscall_loop "$kind" "$n" | ns_per_call >>"$work/base"
    jail --seccomp 3 /b/syscall_loop "$kind" "$n" 3<"$work/floor.bpf" | ns_per_call >>"$work/floor"
    jail --seccomp 3 /b/syscall_loop "$kind" "$n" 3<"$work/args.bpf" | ns_per_call >>"$work/args"
    jail --seccomp 3 /b/syscall_loop "$kind" "$n" 3<"$work/filter.bpf" | ns_per_call >>"$work/filtered"
    if [ $with_run = 1 ]; then
      "$agentjail" run -q --ro "$work:/b" --time 10m --cpu-time 10m -- /b/syscall_loop "$kind" "$n" | ns_per_call >>"$work/run"
    fi
    round=$((round + 1))
  done
  base=$(median <"$work/base")
  floor=$(median <"$work/floor")
  args=$(median <"$work/args")
  filtered=$(median <"$work/filtered")
  to_base=$(ratio "$filtered" "$base")
  to_floor=$(ratio "$filtered" "$floor")
  to_args=$(ratio "$filtered" "$args")
  worst=$(max "$to_base" "$worst")
  worst_floor=$(max "$to_floor" "$worst_floor")
  worst_args=$(max "$to_args" "$worst_args")
  printf '%-8s %9s %9s %9s %9s %9s %9s %9s' "$kind" "$base" "$floor" "$args" "$filtered" "$to_base" "$to_floor" \
    "$to_args"
  if [ $with_run = 1 ]; then
    run=$(median <"$work/run")
    printf ' %9s %9s' "$run" "$(ratio "$run" "$base")"
  fi
  printf '\n'
done
[ $with_run = 1 ] || echo "(agentjail run did not work here: only the bwrap columns were measured)"
verdict() { awk -v w="$1" 'BEGIN {printf "%.3f (%s)", w, (w <= 1.05) ? "within 5 %" : "OVER 5 %"}'; }
echo "worst filter/none $(verdict "$worst"); filter/floor $(verdict "$worst_floor"); filter/args $(verdict "$worst_args")"
