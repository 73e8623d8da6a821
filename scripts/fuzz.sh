#!/bin/sh
# Builds the libFuzzer targets (libFuzzer + ASan + UBSan) in their own build directory and runs
# them for a bounded number of executions and time: policy_fuzz (the policy loader; seeds: the
# built-in policies); http_fuzz, api_fuzz and mcp_fuzz (the HTTP request parser of `agentjail
# serve`, its POST /v1/runs validation and the JSON-RPC session of `agentjail mcp`; seeds:
# tests/fuzz/NAME-seeds/); pool_fuzz (the request serve hands a warm jail's worker, CBOR;
# seeds: tests/fuzz/pool-seeds/); and the network broker's parsers of bytes from the jail, dns_fuzz,
# tls_fuzz and http_head_fuzz (seeds: tests/fuzz/seeds/NAME/). Seeds are copied, so the corpus
# the fuzzer grows never lands in the repository. A target may be named without "_fuzz".
#
#   scripts/fuzz.sh [--target NAME]... [--runs N] [--time SECONDS] [--jobs N] [-- libFuzzer flags]
#   scripts/fuzz.sh --smoke      the HTTP parser, the pooled-request decoder and every network target for 10 s (CI; the policy loader's build
#                                alone takes minutes: run it with --target policy_fuzz)
#
# Defaults: every target, 1,000,000 runs each, at most 900 s each. Exit status: 0 when no target
# crashed, 1 when one did (every target still runs); 77 (skipped) with --smoke when no suitable
# clang is installed (libFuzzer's own 77 for a crash is mapped to 1, so the two never mix). Crashing inputs are
# written to $BUILD/fuzz-artifacts/. Needs clang and a C++ library with std::expected: on Debian
# bookworm, apt-get install clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${AGENTJAIL_FUZZ_BUILD:-$root/build-fuzz}
runs=1000000
max_time=900
jobs=1
targets=""
smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --target) targets="$targets ${2%_fuzz}_fuzz"; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --time) max_time=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    --) shift; break ;;
    *) echo "usage: $0 [--target NAME]... [--runs N] [--time SECONDS] [--jobs N] [--smoke] [-- libFuzzer flags]" >&2; exit 2 ;;
  esac
done
if [ $smoke = 1 ]; then
  runs=100000000
  max_time=10
  [ -n "$targets" ] || targets="http_fuzz pool_fuzz dns_fuzz tls_fuzz http_head_fuzz"
fi
[ -n "$targets" ] || targets="policy_fuzz http_fuzz api_fuzz mcp_fuzz pool_fuzz dns_fuzz tls_fuzz http_head_fuzz"

# The newest clang installed; clang 14 cannot compile std::expected with any bookworm library.
cxx=${CXX:-}
if [ -z "$cxx" ]; then
  for candidate in clang++-19 clang++-18 clang++-17 clang++-16; do
    if command -v "$candidate" >/dev/null 2>&1; then cxx=$candidate; break; fi
  done
fi
if [ -z "$cxx" ]; then
  echo "fuzz.sh: no clang++ 16 or newer (apt-get install clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev)" >&2
  [ $smoke = 1 ] && exit 77
  exit 2
fi
cc=$(echo "$cxx" | sed 's/clang++/clang/')

launcher=""
command -v ccache >/dev/null 2>&1 && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache"
# shellcheck disable=SC2086
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" -DAGENTJAIL_FUZZ=ON -DAGENTJAIL_TESTS=OFF $launcher >/dev/null
# shellcheck disable=SC2086
ninja -C "$build" $targets

artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"
status=0
for target in $targets; do
  corpus=$build/fuzz-corpus/$target
  mkdir -p "$corpus"
  dict=""
  case "$target" in
    policy_fuzz) cp "$root"/policies/*.toml "$corpus"/; dict="-dict=$root/tests/fuzz/policy.dict"; max_len=16384 ;;
    http_fuzz|api_fuzz|mcp_fuzz)
      name=${target%_fuzz}
      cp "$root"/tests/fuzz/"$name"-seeds/* "$corpus"/; dict="-dict=$root/tests/fuzz/$name.dict"; max_len=16384 ;;
    pool_fuzz) cp "$root"/tests/fuzz/pool-seeds/* "$corpus"/; max_len=16384 ;;
    *) cp "$root"/tests/fuzz/seeds/"${target%_fuzz}"/* "$corpus"/; max_len=20000 ;;
  esac
  echo "fuzz.sh: $target"
  parallel=""
  # -runs bounds one process; with --jobs each worker gets the same bound.
  if [ "$jobs" -gt 1 ]; then parallel="-jobs=$jobs -workers=$jobs"; fi
  # shellcheck disable=SC2086
  "$build/tests/fuzz/$target" -runs="$runs" -max_total_time="$max_time" -max_len=$max_len -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$artifacts/$target-" -print_final_stats=1 ${dict:+"$dict"} \
    $parallel "$@" "$corpus" || { echo "fuzz.sh: $target failed (exit $?); inputs in $artifacts/" >&2; status=1; }
done
exit $status
