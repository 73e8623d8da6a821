#!/bin/bash
# agentjail against bare exec and bubblewrap with the same isolation, every comparison
# measured in the same run, interleaved (hyperfine rounds with the variants' order rotated)
# so that machine drift hits all sides alike. Prints one table per section, then metric | measured | target | met? for
# the targets in bench/README.md. Benchmarks are not tests: this exits 0 whatever the numbers.
#
# Usage: bench/run.sh [--smoke] [--baseline AGENTJAIL] [BUILD_DIR]   (BUILD_DIR default: build)
#   --smoke     every section once with minimal sizes (a few seconds): keeps the harness working
#               in CI (ctest bench-smoke).
#   --baseline  another agentjail binary (an older build) run as one more variant of the start
#               and throughput rows, interleaved with the others: a regression check in one run.
# Exit status: 0 measured (whatever the numbers); 77 skipped: a tool is missing (hyperfine,
# bwrap, python3, /usr/bin/time, cc with a static libc) or this host lets neither agentjail
# nor bwrap build a jail for this user; 1 something could not run; 2 usage.
# Run it on a quiet machine: it prints the load average.
set -euo pipefail

usage() { sed -n 's/^# \{0,1\}//; 7,15p' "$0"; }
die() {
  echo "bench: $*" >&2
  exit 1
}
skip() {
  echo "bench: skipped: $*" >&2
  exit 77
}

here=$(cd "$(dirname "$0")" && pwd)
smoke=0
build_arg=
baseline_arg=
while [ $# -gt 0 ]; do
  case $1 in
    --smoke) smoke=1 ;;
    --baseline)
      [ $# -ge 2 ] || { usage >&2 && exit 2; }
      baseline_arg=$2
      shift
      ;;
    -h | --help) usage && exit 0 ;;
    -*) usage >&2 && exit 2 ;;
    *) [ -z "$build_arg" ] || { usage >&2 && exit 2; }; build_arg=$1 ;;
  esac
  shift
done
for tool in hyperfine bwrap python3 /usr/bin/time cc xargs; do
  command -v "$tool" >/dev/null || skip "$tool is missing (scripts/install-deps.sh installs it)"
done
build=$(cd "${build_arg:-$here/../build}" 2>/dev/null && pwd) || die "no build directory ${build_arg:-$here/../build}"
[ -x "$build/agentjail" ] || die "$build/agentjail is not built"

# Start latency: ROUNDS hyperfine invocations of RUNS runs per variant; throughput: BATCHES
# rounds of BATCH_RUNS batches. The variants' order rotates from round to round.
if [ $smoke = 1 ]; then
  rounds=1 runs=3 warmup=1 jobs=10 batches=1 batch_runs=3 flood=10M flood_label="10 MiB" flood_bytes=$((10 << 20)) loop_n=20000 loop_rounds=1
else
  rounds=20 runs=5 warmup=10 jobs=400 batches=6 batch_runs=1 flood=1G flood_label="1 GiB" flood_bytes=$((1 << 30)) loop_n=5000000 loop_rounds=5
fi
policy=default

work=$(mktemp -d "${TMPDIR:-/tmp}/agentjail-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
results=$work/results
: >"$results"
report() { python3 "$here/lib/report.py" "$@"; }

# One binary for the whole run, even if build/ is rebuilt meanwhile.
mkdir "$work/bin"
cp -p "$build/agentjail" "$work/bin/agentjail"
aj=$work/bin/agentjail
if [ -n "$baseline_arg" ]; then
  [ -x "$baseline_arg" ] || die "--baseline $baseline_arg is not an executable"
  mkdir "$work/base"
  cp -p "$baseline_arg" "$work/base/agentjail"
fi

# hyperfine runs every command without a shell (-N): no shell start-up in any number. To
# hand bubblewrap its filter on a file descriptor (bwrap --seccomp 9), every variant of every
# row starts through the same tiny static exec helper, fd9.c, so each pays its ~0.1 ms alike.
cc -O2 -static -o "$work/fd9" "$here/fd9.c" || skip "cc cannot build a static bench/fd9.c (libc6-dev is missing?)"

# The allowlist agentjail installs for the policy, for bubblewrap. Without a notification
# listener (bwrap has none): refused calls get the policy's errno from the filter itself.
"$aj" seccomp -p "$policy" --format bpf --no-notify >"$work/filter.bpf" || die "agentjail seccomp failed"
"$aj" check -p "$policy" >"$work/policy.toml" || die "agentjail check failed"

# bubblewrap with the isolation of agentjail's default policy (agentjail check -p default):
# every namespace, uid/gid 65534 inside, read-only /usr and the merged-/usr symlinks, the same
# /etc files with the same contents, a 64 MiB tmpfs /tmp, a fresh /proc, a minimal /dev, no
# capabilities, a new session, dies with its parent, the same environment and directory.
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n' >"$work/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$work/hosts"
bwrap_cmd=(bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL --hostname agentjail
  --uid 65534 --gid 65534 --clearenv --setenv PATH /usr/local/bin:/usr/bin:/bin --setenv HOME /tmp
  --setenv LANG C.UTF-8 --chdir /tmp
  --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/sbin /sbin --symlink usr/lib /lib
  --symlink usr/lib64 /lib64 --ro-bind-try /etc/ld.so.cache /etc/ld.so.cache
  --ro-bind-try /etc/alternatives /etc/alternatives --ro-bind "$work/passwd" /etc/passwd
  --ro-bind "$work/group" /etc/group --ro-bind "$work/hosts" /etc/hosts
  --perms 1777 --size $((64 << 20)) --tmpfs /tmp --proc /proc --dev /dev)
aj_cmd=("$aj" run -q -p "$policy" --)
base_cmd=("$work/base/agentjail" run -q -p "$policy" --)
bwf_cmd=("${bwrap_cmd[@]}" --seccomp 9)
# A floor, not a jail: the same namespaces and nothing else (no new root, no /proc, no /dev, no
# filter, capabilities kept). Any jail with these namespaces costs at least this much here.
unshare_cmd=(unshare -Urmnpiuf --kill-child)

# Can this user build a jail here at all?
if ! "${aj_cmd[@]}" /bin/true; then
  if ! "${bwrap_cmd[@]}" /bin/true 2>/dev/null; then
    skip "neither agentjail nor bwrap can build a jail for uid $(id -u) here (user namespaces off?)"
  fi
  die "agentjail cannot run a jail here, bwrap can (see: $aj doctor)"
fi
[ -z "$baseline_arg" ] || "${base_cmd[@]}" /bin/true || die "the baseline $baseline_arg cannot run /bin/true"
"$work/fd9" "$work/filter.bpf" "${bwf_cmd[@]}" /bin/true || die "bwrap with the filter cannot run /bin/true"
"${unshare_cmd[@]}" /bin/true || die "unshare -Urmnpiuf cannot run /bin/true"

# hyperfine -N splits a command line as a shell would: quote every word.
line() { printf '%q ' "$@"; }
hyperfine_or_die() {  # hyperfine's options and commands; its own output only on failure
  hyperfine -N --style none "$@" >"$work/hyperfine.out" 2>&1 || {
    cat "$work/hyperfine.out" >&2
    die "hyperfine failed"
  }
}
# Interleaved as far as hyperfine allows: ROUNDS invocations, each running every variant RUNS
# times (after WARMUP runs in the first round, LATER_WARMUP in the others), the variants'
# order rotated by one each round. Writes PREFIX.ROUND.json, the variants named as given.
interleaved() {  # PREFIX ROUNDS RUNS WARMUP LATER_WARMUP NAME COMMAND [NAME COMMAND...]
  local prefix=$1 rounds=$2 runs=$3 warmup=$4 later_warmup=$5 round i count
  shift 5
  local -a names=() commands=() args
  while [ $# -ge 2 ]; do
    names+=("$1") commands+=("$2")
    shift 2
  done
  count=${#names[@]}
  for ((round = 0; round < rounds; round++)); do
    args=()
    for ((i = 0; i < count; i++)); do
      args+=(-n "${names[(i + round) % count]}" "${commands[(i + round) % count]}")
    done
    hyperfine_or_die --runs "$runs" --warmup "$warmup" --export-json "$prefix.$round.json" "${args[@]}"
    warmup=$later_warmup
  done
}

# --- Machine context -----------------------------------------------------------------------
case $(stat -fc %T /sys/fs/cgroup 2>/dev/null) in
  cgroup2fs) cgroups=v2 ;;
  tmpfs) cgroups=v1/hybrid ;;
  *) cgroups=none ;;
esac
source_tree=$(git -C "$here/.." log -1 --format=%h 2>/dev/null || echo unknown)
if [ -n "$(git -C "$here/.." status --porcelain -- src 2>/dev/null)" ]; then
  source_tree="$source_tree, src/ modified"
fi
echo "agentjail bench$([ $smoke = 1 ] && echo ' --smoke'), $(date -u '+%Y-%m-%d %H:%M UTC'), as uid $(id -u)"
echo "host: Linux $(uname -r) $(uname -m), $(nproc) CPUs, cgroups $cgroups, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$("$aj" --version | head -n 1): $build/agentjail of $(date -u -r "$aj" '+%Y-%m-%d %H:%M:%S UTC'), sha256 $(sha256sum "$aj" | cut -c1-12); source tree at $source_tree"
[ -z "$baseline_arg" ] || echo "baseline: $("$work/base/agentjail" --version | head -n 1): $baseline_arg, sha256 $(sha256sum "$work/base/agentjail" | cut -c1-12)"
echo "$(bwrap --version); $(hyperfine --version)"
echo "policy $policy for agentjail, the same isolation for bwrap; filter of $(($(wc -c <"$work/filter.bpf") / 8)) BPF instructions"
echo

# --- 1. Start latency ----------------------------------------------------------------------
echo "== 1. start latency: hyperfine -N, $rounds round(s) of --runs $runs (--warmup $warmup, then 1), medians of $((rounds * runs))"
report start-header
n=0
for workload in "/bin/true" "/usr/bin/python3 -S -c pass" "/usr/bin/python3 -c pass"; do
  read -r -a cmd <<<"$workload"
  n=$((n + 1))
  baseline=()
  [ -z "$baseline_arg" ] || baseline=(baseline "$(line "$work/fd9" /dev/null "${base_cmd[@]}" "${cmd[@]}")")
  interleaved "$work/start$n" "$rounds" "$runs" "$warmup" 1 "${baseline[@]}" \
    bare "$(line "$work/fd9" /dev/null "${cmd[@]}")" \
    unshare "$(line "$work/fd9" /dev/null "${unshare_cmd[@]}" "${cmd[@]}")" \
    agentjail "$(line "$work/fd9" /dev/null "${aj_cmd[@]}" "${cmd[@]}")" \
    bwrap "$(line "$work/fd9" /dev/null "${bwrap_cmd[@]}" "${cmd[@]}")" \
    bwrap+filter "$(line "$work/fd9" "$work/filter.bpf" "${bwf_cmd[@]}" "${cmd[@]}")"
  report start "$results" "$workload" "$work/start$n".*.json
done
echo

# --- 2. Throughput, 2 in parallel ----------------------------------------------------------
echo "== 2. throughput: hyperfine -N, $batches round(s) of --runs $batch_runs (--warmup 1, then 0), each run a batch of $jobs"
seq "$jobs" >"$work/jobs"
baseline=()
[ -z "$baseline_arg" ] ||
  baseline=(baseline "$(line xargs -a "$work/jobs" -P2 -I{} "$work/fd9" /dev/null "${base_cmd[@]}" /bin/true)")
interleaved "$work/throughput" "$batches" "$batch_runs" 1 0 "${baseline[@]}" \
  agentjail "$(line xargs -a "$work/jobs" -P2 -I{} "$work/fd9" /dev/null "${aj_cmd[@]}" /bin/true)" \
  bwrap+filter "$(line xargs -a "$work/jobs" -P2 -I{} "$work/fd9" "$work/filter.bpf" "${bwf_cmd[@]}" /bin/true)"
report throughput "$results" "$jobs" "$work/throughput".*.json
echo

# --- 3. agentjail's own memory -------------------------------------------------------------
echo "== 3. agentjail's resident set"
# The supervisor's high-water mark, sampled from /proc while the jailed command sleeps.
status_kib() {  # PID FIELD: the field's value in KiB, or nothing once the process is gone
  local key value rest
  { while read -r key value rest; do
      [ "$key" != "$2:" ] || { echo "$value"; return 0; }
    done <"/proc/$1/status"; } 2>/dev/null || true
}
"${aj_cmd[@]}" /bin/sleep 0.3 &
supervisor=$!
hwm=0 anon=0
for _ in $(seq 25); do
  sleep 0.01
  value=$(status_kib "$supervisor" VmHWM)
  [ -z "$value" ] || [ "$value" -le "$hwm" ] || hwm=$value
  value=$(status_kib "$supervisor" RssAnon)
  [ -z "$value" ] || [ "$value" -le "$anon" ] || anon=$value
done
wait "$supervisor" || die "agentjail run -- /bin/sleep 0.3 failed"
[ "$hwm" -gt 0 ] || die "could not read /proc/$supervisor/status"
# getrusage's view: the largest single process of a whole run (supervisor, jail init, command).
/usr/bin/time -o "$work/time" -f %M "${aj_cmd[@]}" /bin/true || die "agentjail run -- /bin/true failed"
run_max=$(tail -n 1 "$work/time")
echo "supervisor during 'run -- sleep 0.3': VmHWM $hwm KiB, of which private (RssAnon) $anon KiB"
echo "'run -- /bin/true' under /usr/bin/time -f %M: $run_max KiB (largest process of the run)"
echo "memory.supervisor_hwm_kib=$hwm" >>"$results"
echo

# --- 4. The seccomp filter's cost per system call ------------------------------------------
echo "== 4. seccomp filter cost: bench/seccomp/run.sh, $loop_n calls, $loop_rounds round(s) (ns per call)"
"$here/seccomp/run.sh" "$work/bin" "$loop_n" "$loop_rounds" >"$work/seccomp.txt" || {
  cat "$work/seccomp.txt" >&2
  die "bench/seccomp/run.sh failed"
}
cat "$work/seccomp.txt"
report seccomp "$results" "$work/seccomp.txt"
echo

# --- 5. --json capture of a flood ----------------------------------------------------------
echo "== 5. agentjail run -p $policy --json -- head -c $flood /dev/zero"
/usr/bin/time -o "$work/time" -f '%M %e' "$aj" run -q -p "$policy" --json -- head -c "$flood" /dev/zero \
  >"$work/flood.json" || die "the capture run failed"
read -r flood_kib flood_s <"$work/time"
report flood "$results" "$work/flood.json" "$flood_bytes"
echo "agentjail max RSS $flood_kib KiB; wall $flood_s s ($(sed -n 's/^flood.report_wall_ms=//p' "$results") ms in the report)"
printf 'flood.max_rss_kib=%s\nflood.size=%s\n' "$flood_kib" "$flood_label" >>"$results"
echo

# --- 6. network.mode = "allowlist": start-up against none ----------------------------------
# The broker (made before the clone) and the init's AnyIP routes and listeners, paid by every
# allowlist run. No connection: the command is /bin/true.
echo "== 6. start latency of --net allowlist against none: hyperfine -N, $rounds round(s) of --runs $runs (ms, median)"
interleaved "$work/allowlist" "$rounds" "$runs" "$warmup" 1 \
  none "$(line "$work/fd9" /dev/null "$aj" run -q -p "$policy" --net none -- /bin/true)" \
  allowlist "$(line "$work/fd9" /dev/null "$aj" run -q -p "$policy" --net allowlist --allow bench.invalid -- /bin/true)"
report allowlist "$results" "$work/allowlist".*.json
echo

# --- Summary -------------------------------------------------------------------------------
echo "== summary (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
report summary "$results"
