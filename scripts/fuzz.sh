#!/bin/sh
# Builds one fuzzer (libFuzzer + ASan + UBSan) in its own build directory and runs it for a
# bounded number of executions and time. Targets (tests/fuzz/):
#   policy  the policy loader; seeds: the built-in policies (copied, so the corpus the fuzzer
#           grows never lands in policies/)
#   http    the HTTP request parser of `agentjail serve`; seeds: tests/fuzz/http-seeds
#   api     the POST /v1/runs body validation of `agentjail serve`; seeds: tests/fuzz/api-seeds
#   mcp     the JSON-RPC session of `agentjail mcp`; seeds: tests/fuzz/mcp-seeds
#
#   scripts/fuzz.sh [--target policy|http|api|mcp] [--runs N] [--time SECONDS] [--jobs N] [-- extra libFuzzer flags]
#
# Defaults: 1,000,000 runs, at most 900 s. Exit status: libFuzzer's (0: no crash). Crashing
# inputs are written to $BUILD/fuzz-artifacts/. Needs clang and a C++ library with
# std::expected: on Debian bookworm, apt-get install clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${AGENTJAIL_FUZZ_BUILD:-$root/build-fuzz}
runs=1000000
max_time=900
jobs=1
target=policy
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --time) max_time=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--target policy|http|api|mcp] [--runs N] [--time SECONDS] [--jobs N] [-- libFuzzer flags]" >&2; exit 2 ;;
  esac
done
case "$target" in
  policy|http|api|mcp) ;;
  *) echo "fuzz.sh: unknown target $target (policy, http, api or mcp)" >&2; exit 2 ;;
esac

# The newest clang installed; clang 14 cannot compile std::expected with any bookworm library.
cxx=${CXX:-}
if [ -z "$cxx" ]; then
  for candidate in clang++-19 clang++-18 clang++-17 clang++-16 clang++; do
    if command -v "$candidate" >/dev/null 2>&1; then cxx=$candidate; break; fi
  done
fi
[ -n "$cxx" ] || { echo "fuzz.sh: no clang++ found (apt-get install clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev)" >&2; exit 2; }
cc=$(echo "$cxx" | sed 's/clang++/clang/')

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" -DAGENTJAIL_FUZZ=ON -DAGENTJAIL_TESTS=OFF >/dev/null
ninja -C "$build" "${target}_fuzz"

corpus=$build/fuzz-corpus-$target
artifacts=$build/fuzz-artifacts
[ "$target" = policy ] && corpus=$build/fuzz-corpus  # where earlier runs grew it
mkdir -p "$corpus" "$artifacts"
case "$target" in
  policy) cp "$root"/policies/*.toml "$corpus"/ ;;
  *) cp "$root"/tests/fuzz/"$target"-seeds/* "$corpus"/ ;;
esac

# -runs bounds one process; with --jobs each worker gets the same bound.
set -- -runs="$runs" -max_total_time="$max_time" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
  -dict="$root/tests/fuzz/$target.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 "$@"
if [ "$jobs" -gt 1 ]; then set -- -jobs="$jobs" -workers="$jobs" "$@"; fi
exec "$build/tests/fuzz/${target}_fuzz" "$@" "$corpus"
