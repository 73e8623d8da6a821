#!/usr/bin/python3
"""The arithmetic and the tables of bench/run.sh (standard library only).

Measurements accumulate in a results file of `key=value` lines, written by run.sh and by
the subcommands below; each subcommand prints one section's table, `summary` the last one.

    report.py start-header
    report.py start RESULTS LABEL JSON...              one start-latency row (5 variants, and the
                                                       baseline's ratios when run.sh --baseline ran it)
    report.py throughput RESULTS JOBS JSON...          runs per second, agentjail vs bwrap+filter
    report.py seccomp RESULTS SECCOMP_OUTPUT           parse bench/seccomp/run.sh's table
    report.py flood RESULTS REPORT_JSON BYTES          check the --json capture's report
    report.py allowlist RESULTS JSON...                start-up of --net allowlist against none
    report.py summary RESULTS                          metric | measured | target | met?
"""
import json
import statistics
import sys

# hyperfine's JSON exports (one per round) pool by command name (hyperfine -n NAME).

START_VARIANTS = ("bare", "unshare", "agentjail", "bwrap", "bwrap+filter")


def load(path):
    values = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            if key:
                values[key] = value
    return values


def save(path, **values):
    with open(path, "a") as f:
        for key, value in values.items():
            f.write(f"{key}={value}\n")


def medians_ms(hyperfine_jsons, names, optional=()):
    """The median of each named variant, in ms; an optional variant nobody ran gives None."""
    times = {name: [] for name in (*names, *optional)}
    for path in hyperfine_jsons:
        with open(path) as f:
            for result in json.load(f)["results"]:
                if result["command"] not in times:
                    sys.exit(f"report.py: {path}: unexpected command {result['command']!r}")
                times[result["command"]].extend(result["times"])
    found = [statistics.median(times[name]) * 1000 if times[name] else None for name in optional]
    for name in names:
        if not times[name]:
            sys.exit(f"report.py: no times for {name!r} in {' '.join(hyperfine_jsons)}")
    return [statistics.median(times[name]) * 1000 for name in names] + found


def start(results, label, *hyperfine_jsons):
    bare, ns, aj, bw, bwf, base = medians_ms(hyperfine_jsons, START_VARIANTS, optional=("baseline",))
    save(results, **{f"start.{label}.bare": bare, f"start.{label}.unshare": ns, f"start.{label}.agentjail": aj,
                     f"start.{label}.bwrap": bw, f"start.{label}.bwrap+filter": bwf})
    print(f"{label:<28} {bare:8.2f} {ns:8.2f} {aj:10.2f} {bw:8.2f} {bwf:13.2f} "
          f"{aj / bare:8.2f} {aj / bw:9.2f} {aj / bwf:11.2f} {ns / bwf:12.2f} {ns / bare:11.2f}")
    if base is not None:
        save(results, **{f"start.{label}.baseline": base})
        print(f"{'  baseline binary':<28} {base:35.2f} {'':22} {base / bwf:11.2f}")


def start_header():
    print(f"{'workload (ms, median)':<28} {'bare':>8} {'unshare':>8} {'agentjail':>10} {'bwrap':>8} "
          f"{'bwrap+filter':>13} {'aj/bare':>8} {'aj/bwrap':>9} {'aj/bwrap+f':>11} {'unshare/bw+f':>12} "
          f"{'unshare/bare':>11}")


def throughput(results, jobs, *hyperfine_jsons):
    aj_ms, bwf_ms, base_ms = medians_ms(hyperfine_jsons, ("agentjail", "bwrap+filter"), optional=("baseline",))
    aj, bwf = int(jobs) / (aj_ms / 1000), int(jobs) / (bwf_ms / 1000)
    save(results, **{"throughput.agentjail": aj, "throughput.bwrap+filter": bwf})
    print(f"{jobs} runs of /bin/true, 2 at a time (xargs -P2), median of the batches:")
    print(f"  agentjail     {aj:8.1f} runs/s  ({aj_ms / 1000:.2f} s per batch)")
    print(f"  bwrap+filter  {bwf:8.1f} runs/s  ({bwf_ms / 1000:.2f} s per batch)")
    if base_ms is not None:
        base = int(jobs) / (base_ms / 1000)
        save(results, **{"throughput.baseline": base})
        print(f"  baseline      {base:8.1f} runs/s  ({base_ms / 1000:.2f} s per batch)")
    print(f"  agentjail / (bwrap+filter): {aj / bwf:.2f}x (higher is better)")


def allowlist(results, *hyperfine_jsons):
    none, allow = medians_ms(hyperfine_jsons, ("none", "allowlist"))
    save(results, **{"allowlist.start.none": none, "allowlist.start.allowlist": allow})
    print(f"  --net none       {none:8.2f} ms")
    print(f"  --net allowlist  {allow:8.2f} ms  ({allow - none:+.2f} ms)")


def seccomp(results, output):
    found = 0
    with open(output) as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] in ("getppid", "read", "ioctl") and len(fields) >= 8:
                kind = fields[0]
                save(results, **{f"seccomp.{kind}.none": fields[1], f"seccomp.{kind}.floor": fields[2],
                                 f"seccomp.{kind}.args": fields[3], f"seccomp.{kind}.agentjail": fields[4],
                                 f"seccomp.{kind}.per_none": fields[5], f"seccomp.{kind}.per_floor": fields[6],
                                 f"seccomp.{kind}.per_args": fields[7]})
                found += 1
    if found == 0:
        sys.exit(f"report.py: no result rows in {output}")


def flood(results, report_json, nbytes):
    with open(report_json) as f:
        report = json.load(f)
    if report.get("status") != "ok" or report.get("stdout_bytes") != int(nbytes):
        sys.exit(f"report.py: the capture run reported status {report.get('status')!r}, "
                 f"stdout_bytes {report.get('stdout_bytes')!r} (expected ok, {nbytes})")
    save(results, **{"flood.report_wall_ms": report["wall_time_ms"],
                     "flood.kept_bytes": len(report.get("stdout", "").encode())})


def summary(results):
    r = load(results)
    f = lambda key: float(r[key])  # noqa: E731
    rows = []

    def row(metric, measured, target, met):
        rows.append((metric, measured, target, "-" if met is None else "yes" if met else "no"))

    # Each start target with its floor: the bare namespaces (unshare) against the same baseline.
    x = f("start./bin/true.agentjail") / f("start./bin/true.bwrap+filter")
    row("start /bin/true: agentjail / (bwrap+filter)", f"{x:.2f}x", "<= 0.60x", x <= 0.6)
    x = f("start./bin/true.unshare") / f("start./bin/true.bwrap+filter")
    row("  floor: unshare -Urmnpiuf / (bwrap+filter)", f"{x:.2f}x", "(none)", None)
    x = f("start./usr/bin/python3 -c pass.agentjail") / f("start./usr/bin/python3 -c pass.bare")
    row("start python3 -c pass: agentjail / bare", f"{x:.2f}x", "<= 1.20x", x <= 1.2)
    x = f("start./usr/bin/python3 -c pass.unshare") / f("start./usr/bin/python3 -c pass.bare")
    row("  floor: unshare -Urmnpiuf / bare", f"{x:.2f}x", "(none)", None)
    x = f("throughput.agentjail") / f("throughput.bwrap+filter")
    row("throughput, 2 parallel: agentjail / (bwrap+filter)", f"{x:.2f}x", ">= 2.00x", x >= 2)
    # With --baseline: this build's ratios against the baseline's, measured in the same run.
    for label in ("/bin/true", "/usr/bin/python3 -S -c pass", "/usr/bin/python3 -c pass"):
        if f"start.{label}.baseline" in r:
            ours = f(f"start.{label}.agentjail") / f(f"start.{label}.bwrap+filter")
            base = f(f"start.{label}.baseline") / f(f"start.{label}.bwrap+filter")
            x = ours / base - 1
            row(f"  vs baseline: start {label}, aj/(bwrap+filter)", f"{ours:.3f} vs {base:.3f} ({x * 100:+.1f} %)",
                "<= +3 %", x <= 0.03)
    if "throughput.baseline" in r:
        ours = f("throughput.agentjail") / f("throughput.bwrap+filter")
        base = f("throughput.baseline") / f("throughput.bwrap+filter")
        x = ours / base - 1
        row("  vs baseline: throughput, aj/(bwrap+filter)", f"{ours:.3f} vs {base:.3f} ({x * 100:+.1f} %)",
            ">= -3 %", x >= -0.03)
    x = f("memory.supervisor_hwm_kib") / 1024
    row("supervisor peak RSS (VmHWM)", f"{x:.2f} MiB", "<= 3 MiB", x <= 3)
    # Against no filter: what the jail's filter costs a program. Against the cheapest filter with
    # the same path through the kernel (cached verdict, or a program that reads the argument):
    # what the filter's contents cost, the part agentjail decides.
    for kind in ("getppid", "read", "ioctl"):
        if f"seccomp.{kind}.per_none" in r:
            x, floor = f(f"seccomp.{kind}.per_none"), f(f"seccomp.{kind}.per_floor")
            row(f"filter cost, {kind}: vs no filter (vs any filter)",
                f"{(x - 1) * 100:+.1f} % ({(floor - 1) * 100:+.1f} %)", "<= 5 %", x <= 1.05)
    for kind in ("getppid", "read", "ioctl"):
        if f"seccomp.{kind}.per_args" in r:
            x = f(f"seccomp.{kind}.per_args" if kind == "ioctl" else f"seccomp.{kind}.per_floor")
            row(f"filter contents, {kind}: vs the cheapest filter on its path", f"{(x - 1) * 100:+.1f} %",
                "<= 5 %", x <= 1.05)
    if "allowlist.start.allowlist" in r:
        x = f("allowlist.start.allowlist") - f("allowlist.start.none")
        row("start /bin/true: --net allowlist - none", f"{x:+.2f} ms", "<= 1 ms", x <= 1)
    x = f("flood.max_rss_kib") / 1024
    row(f"--json capture of {r['flood.size']}: agentjail max RSS", f"{x:.1f} MiB", "< 16 MiB", x < 16)

    widths = [max(len(cells[i]) for cells in rows + [("metric", "measured", "target", "met?")]) for i in range(4)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(("metric", "measured", "target", "met?")))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in rows:
        print(line(cells))


def main(argv):
    # name: (function, number of arguments, more allowed)
    commands = {"start": (start, 3, True), "start-header": (start_header, 0, False),
                "throughput": (throughput, 3, True), "seccomp": (seccomp, 2, False),
                "allowlist": (allowlist, 2, True),
                "flood": (flood, 3, False), "summary": (summary, 1, False)}
    if len(argv) < 2 or argv[1] not in commands:
        sys.exit(__doc__)
    function, count, more = commands[argv[1]]
    if len(argv) - 2 < count or (len(argv) - 2 > count and not more):
        sys.exit(__doc__)
    function(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
