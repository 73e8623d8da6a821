#!/bin/bash
# agentjail against bare exec and bubblewrap, every comparison measured in the same run so
# machine drift hits all sides alike. Prints one table per section and a summary of ratios
# against the targets of issue 6. Benchmarks are not tests: this exits 0 whatever the
# numbers, and non-zero only when something could not run at all.
#
# Usage: bench/run.sh [--smoke] [BUILD_DIR]      (default BUILD_DIR: build)
#   --smoke  every section once, minimal sizes (about 30 s): keeps the harness working in CI.
# Needs hyperfine, bwrap, python3, /usr/bin/time and a C compiler with a static libc. Run it on a quiet machine; it prints the load average it started with.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
smoke=0
if [ "${1:-}" = "--smoke" ]; then
  smoke=1
  shift
fi
build=$(cd "${1:-$here/../build}" && pwd)
agentjail=$build/agentjail

die() {
  echo "bench: $*" >&2
  exit 1
}
for tool in hyperfine bwrap python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh installs it)"
done
[ -x "$agentjail" ] || die "$agentjail is not built"
"$agentjail" run -q -- /bin/true || die "agentjail cannot run a jail here (see: agentjail doctor)"

work=$(mktemp -d /tmp/agentjail-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

if [ $smoke = 1 ]; then
  runs=3 warmup=1 jobs=10 flood=$((10 << 20)) loop_n=100000 loop_rounds=1
else
  runs=100 warmup=10 jobs=400 flood=$((1 << 30)) loop_n=5000000 loop_rounds=5
fi

policy=default
# The same allowlist agentjail installs for the policy, for bubblewrap (no notify listener:
# bwrap has none; refused calls get the policy's errno instead).
"$agentjail" seccomp -p "$policy" --format bpf --no-notify >"$work/filter.bpf"

# bubblewrap with the isolation of agentjail's default policy: every namespace, read-only /usr
# and the merged-/usr symlinks, the same /etc files, tmpfs /tmp, a fresh /proc, a minimal /dev,
# no capabilities, a new session, dies with its parent.
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n' >"$work/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$work/hosts"
bwrap_args=(--unshare-all --die-with-parent --new-session --cap-drop ALL --hostname agentjail
  --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/sbin /sbin --symlink usr/lib /lib
  --symlink usr/lib64 /lib64 --ro-bind /etc/ld.so.cache /etc/ld.so.cache
  --ro-bind-try /etc/alternatives /etc/alternatives --ro-bind "$work/passwd" /etc/passwd
  --ro-bind "$work/group" /etc/group --ro-bind "$work/hosts" /etc/hosts
  --tmpfs /tmp --proc /proc --dev /dev)
# hyperfine runs commands without a shell (-N), so the filter reaches bwrap on fd 9 through
# a tiny static exec helper (bench/fd9.c); every row of the table goes through the same
# helper, so each pays its ~0.1 ms alike.
cc -O2 -static -o "$work/fd9" "$here/fd9.c" || die "cannot build bench/fd9.c (needs gcc and libc6-dev)"
via() { printf '%s %s' "$work/fd9" "$1"; }  # the helper, with fd 9 open on FILE
bwrap_line=$(printf '%q ' bwrap "${bwrap_args[@]}")

echo "agentjail bench$([ $smoke = 1 ] && echo ' (smoke)'): $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$("$agentjail" --version | head -1); $(bwrap --version); $(hyperfine --version)"
echo "policy $policy; bwrap with the same isolation; filter $(($(wc -c <"$work/filter.bpf") / 8)) BPF instructions"
echo

# --- 1. Start latency ----------------------------------------------------------------------
# Median of each variant, interleaved by hyperfine in one invocation per workload.
median_ms() {  # json file, command index
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print("%.2f" % (r["median"]*1000))' "$1" "$2"
}
declare -A start
printf '%-26s %8s %10s %8s %12s %9s %9s %11s\n' workload bare agentjail bwrap "bwrap+filter" "aj/bare" "aj/bwrap" "aj/bwrap+f"
for workload in "/bin/true" "/usr/bin/python3 -S -c pass" "/usr/bin/python3 -c pass"; do
  json=$work/start.json
  hyperfine -N --style none --runs "$runs" --warmup "$warmup" --export-json "$json" \
    "$(via /dev/null) $workload" \
    "$(via /dev/null) $agentjail run -q -p $policy -- $workload" \
    "$(via /dev/null) $bwrap_line $workload" \
    "$(via "$work/filter.bpf") $bwrap_line --seccomp 9 $workload" >/dev/null 2>&1 ||
    die "hyperfine failed on: $workload"
  bare=$(median_ms "$json" 0) aj=$(median_ms "$json" 1) bw=$(median_ms "$json" 2) bws=$(median_ms "$json" 3)
  start[$workload]="$bare $aj $bw $bws"
  python3 -c 'import sys; w,b,a,x,y=sys.argv[1],*map(float,sys.argv[2:]); print(f"{w:<26} {b:8.2f} {a:10.2f} {x:8.2f} {y:12.2f} {a/b:9.2f} {a/x:9.2f} {a/y:11.2f}")' \
    "$workload" "$bare" "$aj" "$bw" "$bws"
done
echo "(milliseconds, medians of $runs runs each)"
echo

# --- 2. Throughput, 2 in parallel ----------------------------------------------------------
rate() {  # runs per second of $jobs runs of "$@" /bin/true, 2 at a time
  local started ended
  started=$(date +%s.%N)
  seq "$jobs" | xargs -P2 -I{} "$@" /bin/true || die "a parallel run failed: $*"
  ended=$(date +%s.%N)
  python3 -c 'import sys; print(f"{int(sys.argv[1])/(float(sys.argv[3])-float(sys.argv[2])):.0f}")' "$jobs" "$started" "$ended"
}
aj_rate=$(rate "$agentjail" run -q -p "$policy" --)
bw_rate=$(rate "$work/fd9" "$work/filter.bpf" bwrap "${bwrap_args[@]}" --seccomp 9)
aj_rate2=$(rate "$agentjail" run -q -p "$policy" --)
bw_rate2=$(rate "$work/fd9" "$work/filter.bpf" bwrap "${bwrap_args[@]}" --seccomp 9)
aj_rate=$(((aj_rate + aj_rate2) / 2))
bw_rate=$(((bw_rate + bw_rate2) / 2))
echo "throughput, $jobs runs of /bin/true 2 at a time: agentjail $aj_rate/s, bwrap+filter $bw_rate/s"
echo

# --- 3. agentjail's own memory -------------------------------------------------------------
# The supervisor's high-water mark while the jailed command sleeps, from /proc; and the
# largest process of the run as getrusage sees it (/usr/bin/time %M: supervisor or init).
"$agentjail" run -q -p "$policy" -- /bin/sleep 0.5 &
sup=$!
sleep 0.3
sup_hwm_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$sup/status")
sup_anon_kib=$(awk '/^RssAnon/ {print $2}' "/proc/$sup/status")
wait "$sup"
run_rss_kib=$(/usr/bin/time -f %M "$agentjail" run -q -p "$policy" -- /bin/true 2>&1 >/dev/null | tail -n 1)
echo "supervisor resident set: peak $sup_hwm_kib KiB (private $sup_anon_kib KiB; the rest is the binary's shared pages)"
echo "largest agentjail process of a run (/usr/bin/time): $run_rss_kib KiB"
echo

# --- 4. The seccomp filter's cost per system call ------------------------------------------
echo "seccomp filter cost (bench/seccomp/run.sh, $loop_n calls, $loop_rounds rounds):"
"$here/seccomp/run.sh" "$build" "$loop_n" "$loop_rounds" | tee "$work/seccomp.txt"
echo

# --- 5. --json capture of a flood ----------------------------------------------------------
flood_out=$( { /usr/bin/time -f '%M %e' "$agentjail" run -p shell --json --time 300s -- \
  /bin/sh -c "head -c $flood /dev/zero" >"$work/flood.json"; } 2>&1 | tail -n 1)
flood_rss_kib=${flood_out% *}
flood_s=${flood_out#* }
python3 - "$work/flood.json" "$flood" <<'EOF' || die "the flood run did not report as expected"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["status"] == "ok" and report["stdout_bytes"] == int(sys.argv[2]), report["status"]
EOF
echo "--json capture of $((flood >> 20)) MiB: agentjail max RSS $flood_rss_kib KiB, $flood_s s"
echo

# --- Summary -------------------------------------------------------------------------------
read -r bare aj bw bws <<<"${start[/bin/true]}"
read -r pbare paj _ _ <<<"${start[/usr/bin/python3 -c pass]}"
filter_ratio=$(awk '$1 == "ioctl" || $1 == "getppid" || $1 == "read" {print $1, $5, $6}' "$work/seccomp.txt" | tr '\n' ' ')
python3 - "$aj" "$bws" "$paj" "$pbare" "$aj_rate" "$bw_rate" "$sup_hwm_kib" "$flood_rss_kib" "$flood" "$filter_ratio" <<'EOF'
import sys
aj, bws, paj, pbare = map(float, sys.argv[1:5])
aj_rate, bw_rate, hwm, flood_rss, flood = map(float, sys.argv[5:10])
filt = sys.argv[10].split()
rows = [
    ("start /bin/true, agentjail / (bwrap+filter)", f"{aj / bws:.2f}x", "<= 0.60x", aj / bws <= 0.6),
    ("python3 -c pass, agentjail / bare", f"{paj / pbare:.2f}x", "<= 1.20x", paj / pbare <= 1.2),
    ("throughput 2 parallel, agentjail / (bwrap+filter)", f"{aj_rate / bw_rate:.2f}x", ">= 2.00x", aj_rate / bw_rate >= 2),
    ("supervisor resident set (peak)", f"{hwm / 1024:.2f} MiB", "<= 3 MiB", hwm <= 3 * 1024),
    (f"--json capture of {int(flood) >> 20} MiB, max RSS", f"{flood_rss / 1024:.1f} MiB", "< 16 MiB", flood_rss < 16 * 1024),
]
for i in range(0, len(filt), 3):
    name, per_none, per_floor = filt[i], float(filt[i + 1]), float(filt[i + 2])
    rows.append((f"filter cost, {name}: vs no filter / vs any filter", f"{per_none:.3f} / {per_floor:.3f}", "<= 1.05", per_none <= 1.05))
print(f"{'metric':<52} {'measured':>16} {'target':>10}  met")
for metric, measured, target, met in rows:
    print(f"{metric:<52} {measured:>16} {target:>10}  {'yes' if met else 'no'}")
EOF
