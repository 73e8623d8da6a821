"""SPEC §3 [limits], §4, §6: the jail's cgroup enforces memory, pids and cpu_time over the whole
jail, reports usage, and leaves no directory behind, whatever ends the run.

Runs as whoever runs the tests: as root on a hybrid host this is cgroup v1, in the VM
(scripts/vm-test.sh) real cgroup v2, as an ordinary user without delegation the rlimit
fallback. Limit tests skip (not pass) where `agentjail doctor` says the limit is not enforced
by a cgroup here; the fallback tests check what is said instead.
"""
import glob
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import AGENTJAIL, agentjail_for, as_user_prefix, is_root, measures_own_memory, requires_userns, run

pytestmark = requires_userns

MiB = 1 << 20

# Forks children that sleep until the fork is refused, then says after how many and fails.
FORK_BOMB = ("import os, sys, time\n"
             "for i in range(500):\n"
             "    try:\n"
             "        if os.fork() == 0:\n"
             "            time.sleep(30); os._exit(0)\n"
             "    except OSError as e:\n"
             "        print('refused after', i, e, flush=True); sys.exit(1)\n")


def kernel_version():
    major, minor = re.match(r"(\d+)\.(\d+)", os.uname().release).groups()
    return int(major), int(minor)


def doctor(policy=None, user=None):
    argv = [agentjail_for(user), "doctor", "--json"] + (["-p", policy] if policy else [])
    if user is not None:
        argv = as_user_prefix(user, user) + argv
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1), proc
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def host():
    return doctor()


def enforced_by_cgroup(host, limit):
    return host["policy"]["limits"][limit]["full"] and host["policy"]["cgroup"] != "none"


def needs_cgroup(host, limit):
    if not enforced_by_cgroup(host, limit):
        pytest.skip(f"limits.{limit} is not enforced by a cgroup here: "
                    f"{host['policy']['limits'][limit]['enforced_by']}")


def cgroup_parents(host):
    """Our own cgroup directories, where the jail's directories are created."""
    parents = []
    v2 = host["cgroup"]["v2"]
    if v2["mounted"] and v2["writable"]:
        parents.append(os.path.join(v2["mount"], v2["cgroup"].lstrip("/")))
    parents += [c["path"] for c in host["cgroup"]["v1"].values() if c["writable"]]
    return sorted(set(p.rstrip("/") for p in parents))


def our_dirs(host, owner=None):
    """agentjail directories below our cgroups (of run `owner` when given)."""
    pattern = f"agentjail-{owner}-*" if owner else "agentjail-*"
    found = []
    for parent in cgroup_parents(host):
        found += glob.glob(os.path.join(parent, pattern))
    return sorted(found)


# ---- limits ----------------------------------------------------------------------------------

@measures_own_memory
def test_memory_bomb_ends_as_memory_limit(host):
    needs_cgroup(host, "memory")
    bomb = "chunks = []\nwhile True:\n    chunks.append(b'\\x01' * (8 << 20))\n"
    r = run("python3", "-c", bomb, policy="python", options=["--memory", "64MiB", "--time", "60s"])
    assert r.code == 137, r
    assert r.report["status"] == "memory_limit", r.report
    assert r.report["signal"] == "SIGKILL"
    # Held at the limit: the host never gave it more.
    assert r.report["memory"]["peak_bytes"] <= 64 * MiB + 4 * MiB, r.report["memory"]
    assert r.report["memory"]["source"] == "cgroup-" + host["policy"]["cgroup"]


def test_memory_without_a_cgroup_falls_back_to_rlimit_as_and_says_so():
    # As root, the unprivileged path (an ordinary user has no cgroup of its own on most hosts).
    r = run("python3", "-c", "b'x' * (200 << 20)", policy="python", options=["--memory", "64MiB"],
            user=65534 if is_root() else None)
    if not any("limits.memory" in w for w in r.report["warnings"]):
        pytest.skip("this user's memory limit is enforced by a cgroup here")
    assert r.report["status"] == "exit" and r.code == 1, r
    assert "MemoryError" in r.stderr
    assert any("limits.memory (64MiB): enforced with RLIMIT_AS" in w for w in r.report["warnings"]), r.report


def test_fork_bomb_is_held_at_pids_and_the_run_ends(host):
    needs_cgroup(host, "pids")
    started = time.monotonic()
    r = run("python3", "-c", FORK_BOMB, policy="python", options=["--pids", "16", "--time", "60s"])
    assert time.monotonic() - started < 30
    assert r.report["status"] == "pids_limit", r
    assert r.code == 1
    assert "refused after 14" in r.stdout  # 16 tasks: the jail's pid 1, python and 14 children
    if r.report["pids"]["peak"] is not None:
        assert r.report["pids"]["peak"] == 16


def test_fork_bomb_without_cgroup_is_held_by_rlimit_nproc_of_this_jail_only():
    # As root, the unprivileged path. Twenty other processes of the same host uid run meanwhile:
    # since 5.14 RLIMIT_NPROC counts per user namespace, so they must not take the jail's share.
    user = 65534 if is_root() else None
    others = [subprocess.Popen((as_user_prefix(user, user) if user else []) + ["/bin/sleep", "30"])
              for _ in range(20)]
    try:
        r = run("python3", "-c", FORK_BOMB, policy="python", options=["--pids", "16", "--time", "60s"], user=user)
    finally:
        for other in others:
            other.kill()
            other.wait()
    if not any("limits.pids" in w for w in r.report["warnings"]):
        pytest.skip("this user's pids limit is enforced by a cgroup here")
    if kernel_version() < (5, 14):
        assert any("every process of the jail's host user" in w for w in r.report["warnings"]), r.report
        pytest.skip("before 5.14 RLIMIT_NPROC counts every process of the host uid (and the warning says so)")
    assert any("RLIMIT_NPROC" in w and "this jail only" in w for w in r.report["warnings"]), r.report
    # Not pids_limit: a refused fork is invisible without the cgroup, and the warning says so.
    assert r.report["status"] == "exit" and r.code == 1, r
    assert "refused after 14" in r.stdout  # 16 tasks of the jail's user: pid 1, python, 14 children


def test_shell_fork_bomb_ends(host):
    needs_cgroup(host, "pids")
    started = time.monotonic()
    r = run("/bin/sh", "-c", "b() { b | b & }; b; sleep 2", policy="shell",
            options=["--pids", "32", "--time", "10s"])
    assert time.monotonic() - started < 30, r
    # How it ends depends on the shell and the machine's speed (refused forks burn CPU too);
    # that it ends, held at the limit, does not.
    assert r.report["status"] in ("pids_limit", "ok", "exit", "timeout", "cpu_limit"), r.report
    if r.report["pids"]["peak"] is not None:
        assert r.report["pids"]["peak"] <= 32


def test_cpu_time_counts_every_process_of_the_jail(host):
    needs_cgroup(host, "cpu_time")
    busy = "for i in 1 2 3 4; do (while :; do :; done) & done; wait"
    r = run("/bin/sh", "-c", busy, policy="shell", options=["--cpu-time", "2s", "--time", "60s"])
    assert r.code == 124, r
    assert r.report["status"] == "cpu_limit", r.report
    used = r.report["cpu"]["user_ms"] + r.report["cpu"]["system_ms"]
    # The 2 s are shared by the four: with RLIMIT_CPU alone each would burn 2 s (8 s in all).
    # Polled every 50 ms, so the overshoot is a few polls of four processes, more when other
    # work on the machine delays the supervisor's wakeups (seen: 634 ms beside a benchmark).
    assert 2000 <= used < 3000, r.report["cpu"]  # the exact total: killed once it reached 2 s
    # Wall time is about 2 s / min(4, cores) on an idle machine; under load it is whatever the
    # scheduler gives, so it is printed (pytest -s) rather than asserted.
    print(f"cpu_time 2s with 4 busy processes on {len(os.sched_getaffinity(0))} cores: "
          f"wall {r.report['wall_time_ms']:.0f} ms, cpu {used:.0f} ms")


def test_memory_peak_after_touching_100_mib():
    touch = "b = bytearray(100 << 20)\nb[::4096] = b'\\x01' * (len(b) // 4096)\n"
    r = run("python3", "-c", touch, policy="python", options=["--memory", "512MiB"])
    assert r.code == 0, r
    assert r.report["memory"]["peak_bytes"] >= 100 * MiB, r.report["memory"]


def test_cpu_usage_is_reported(host):
    r = run("/bin/sh", "-c", "i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done", policy="shell",
            options=["--cpu-time", "120s", "--time", "120s"])
    assert r.code == 0, r
    assert r.report["cpu"]["user_ms"] + r.report["cpu"]["system_ms"] > 10, r.report["cpu"]


# ---- cgroup v2's no-internal-processes rule ---------------------------------------------------

def enter_cgroup(path):
    """preexec_fn: the child (a process this test starts) moves itself into cgroup `path`."""
    def enter():
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    return enter


@pytest.fixture
def scope(host):
    """A fresh v2 cgroup below ours with memory and pids available, like a systemd scope with
    Delegate=yes (root only; in practice the VM)."""
    v2 = host["cgroup"]["v2"]
    if not is_root() or not v2["writable"] or not {"memory", "pids"} <= set(v2["delegated"]):
        pytest.skip("needs root and cgroup v2 with memory and pids delegated (scripts/vm-test.sh)")
    path = os.path.join(v2["mount"], v2["cgroup"].lstrip("/"), f"ajtest-scope-{os.getpid()}")
    os.mkdir(path)
    yield path
    for child in glob.glob(os.path.join(path, "*/")):
        os.rmdir(child)
    os.rmdir(path)


def run_in(scope_path, *args, options=(), policy="python", user=None):
    argv = [agentjail_for(user), "run", "--json", "--policy", policy, *options, "--", *args]
    if user is not None:
        argv = as_user_prefix(user, user) + argv
    proc = subprocess.run(argv, preexec_fn=enter_cgroup(scope_path), capture_output=True, text=True, timeout=120)
    return proc, json.loads(proc.stdout)


def non_landlock_warnings(report):
    """The report's warnings but Landlock's (an older kernel's ABI adds some; test_landlock.py
    covers them): these tests are about the cgroup."""
    return [w for w in report["warnings"] if not w.startswith(("landlock:", "host ids:"))]


def test_delegated_to_an_ordinary_user_the_jail_gets_cgroup_v2(scope):
    # What systemd's Delegate=yes hands to a user: the directory and the files that move
    # processes and enable controllers.
    for name in ("", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
        os.chown(os.path.join(scope, name), 65534, 65534)
    bomb = "chunks = []\nwhile True:\n    chunks.append(b'\\x01' * (8 << 20))\n"
    proc, report = run_in(scope, "python3", "-c", bomb, options=["--memory", "64MiB"], user=65534)
    assert report["enforcement"]["cgroup"] == "v2", report
    assert non_landlock_warnings(report) == [], report["warnings"]
    assert report["status"] == "memory_limit" and proc.returncode == 137, report
    assert glob.glob(os.path.join(scope, "*/")) == []


def test_alone_in_its_cgroup_agentjail_moves_itself_aside_and_back(scope):
    bomb = "chunks = []\nwhile True:\n    chunks.append(b'\\x01' * (8 << 20))\n"
    proc, report = run_in(scope, "python3", "-c", bomb, options=["--memory", "64MiB"])
    assert report["enforcement"]["cgroup"] == "v2", report
    assert non_landlock_warnings(report) == [], report["warnings"]
    assert report["status"] == "memory_limit" and proc.returncode == 137, report
    # At the end it came back, disabled what it had enabled and removed its leaf.
    assert glob.glob(os.path.join(scope, "*/")) == []
    with open(os.path.join(scope, "cgroup.subtree_control")) as f:
        assert f.read().split() == []


def test_sharing_its_cgroup_agentjail_moves_nothing_and_says_how_to_fix(scope):
    other = subprocess.Popen(["/bin/sleep", "60"], preexec_fn=enter_cgroup(scope))
    try:
        proc, report = run_in(scope, "/bin/true", options=["--memory", "64MiB", "--pids", "16"], policy="shell")
        with open(os.path.join(scope, "cgroup.procs")) as f:
            still_there = str(other.pid) in f.read().split()
    finally:
        other.kill()
        other.wait()
    assert report["status"] == "ok", report
    assert still_there, "agentjail moved a process it did not start"
    warnings = report["warnings"]
    assert any(w.startswith("limits.memory (64MiB): enforced with RLIMIT_AS") and "1 other process(es)" in w
               and "systemd-run --scope -p Delegate=yes" in w for w in warnings), warnings
    assert any(w.startswith("limits.pids (16): enforced with RLIMIT_NPROC") for w in warnings), warnings
    assert glob.glob(os.path.join(scope, "*/")) == []


# ---- nothing left behind ---------------------------------------------------------------------

def run_watched(host, *args, options=()):
    """agentjail run --json ... while watching its cgroup directories (named for its pid; other
    runs may be going on at the same time). Returns (report, dirs seen during the run, pid)."""
    proc = subprocess.Popen([AGENTJAIL, "run", "--json", "--policy", "shell", *options, "--", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = set()
    while proc.poll() is None:
        seen.update(our_dirs(host, proc.pid))
        time.sleep(0.01)
    out, _ = proc.communicate()
    return json.loads(out), seen, proc.pid


def test_the_jail_is_in_its_cgroup_and_sees_it_as_the_root(host):
    """Every process of the jail is in the jail's cgroup (v1: init joins it by itself), and the
    jail's cgroup namespace is rooted there: /proc/self/cgroup shows "/" and no host path."""
    if host["policy"]["cgroup"] == "none":
        pytest.skip("no cgroup is created here")
    proc = subprocess.Popen([AGENTJAIL, "run", "--policy", "shell", "--", "/bin/sh", "-c",
                             "cat /proc/self/cgroup; sleep 2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        dirs = wait_for(lambda: our_dirs(host, proc.pid), "the jail's cgroup to appear")
        # The init and the command (sh, then sleep) in every one: nothing of the jail outside.
        def populated():
            return all(len(open(os.path.join(d, "cgroup.procs")).read().split()) >= 2 for d in dirs)
        wait_for(populated, "the jail's init and command in every jail cgroup")
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    lines = [line for line in out.splitlines() if line]
    assert lines, out
    for line in lines:
        hierarchy, _, path = line.partition(":")[2].partition(":")
        assert path == "/", f"the jail sees a host cgroup path: {line!r} ({hierarchy})"


def test_nothing_left_after_a_run(host):
    report, seen, pid = run_watched(host, "/bin/sleep", "0.5")
    assert report["status"] == "ok", report
    if host["policy"]["cgroup"] != "none":
        assert seen, "the jail's cgroup directories were never seen"
    assert our_dirs(host, pid) == []


def test_nothing_left_after_setup_error(host):
    report, _, pid = run_watched(host, "/bin/true", options=["--ro", "/nonexistent/agentjail-test:/x"])
    assert report["status"] == "setup_error", report
    assert our_dirs(host, pid) == []


def jailed_sleep_runs(marker):
    """Whether `/bin/sleep MARKER` runs (the jail's command, not agentjail's own argv naming it)."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return any(line.startswith(f"/bin/sleep {marker}") for line in out.splitlines())


def test_nothing_left_after_sigterm(host):
    marker = f"60.{os.getpid()}"  # a sleep of its own, told apart from other runs'
    proc = subprocess.Popen([AGENTJAIL, "run", "--policy", "shell", "--", "/bin/sleep", marker],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if host["policy"]["cgroup"] != "none":
            wait_for(lambda: our_dirs(host, proc.pid), "the jail's cgroup to appear")
        # The SIGTERM reaches a run whose command is going: not one that failed to start.
        wait_for(lambda: jailed_sleep_runs(marker), "the jailed sleep to start")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert our_dirs(host, proc.pid) == []
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr.read()
    assert not jailed_sleep_runs(marker)


def test_sigkilled_run_leaves_a_directory_that_the_next_run_removes(host):
    if host["policy"]["cgroup"] == "none":
        pytest.skip("no cgroup is created here")
    proc = subprocess.Popen([AGENTJAIL, "run", "--policy", "shell", "--", "/bin/sleep", "60"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        dirs = wait_for(lambda: our_dirs(host, proc.pid), "the jail's cgroup to appear")
        procs_file = os.path.join(dirs[0], "cgroup.procs")
        wait_for(lambda: open(procs_file).read().split(), "the jail to start")
    finally:
        proc.kill()
        proc.wait()
    # The jail dies with agentjail (PDEATHSIG, then its pid namespace collapses) ...
    wait_for(lambda: all(not os.path.exists(d) or not open(os.path.join(d, "cgroup.procs")).read().split()
                         for d in dirs), "the jail to die with agentjail")
    # ... its empty directory stays, and the next run removes it.
    r = run("/bin/true", policy="shell")
    assert r.code == 0, r
    assert our_dirs(host, proc.pid) == []


def test_doctor_removes_stale_directories(host):
    if host["policy"]["cgroup"] == "none":
        pytest.skip("no cgroup is created here")
    proc = subprocess.Popen([AGENTJAIL, "run", "--policy", "shell", "--", "/bin/sleep", "60"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        dirs = wait_for(lambda: our_dirs(host, proc.pid), "the jail's cgroup to appear")
    finally:
        proc.kill()
        proc.wait()
    wait_for(lambda: all(not os.path.exists(d) or not open(os.path.join(d, "cgroup.procs")).read().split()
                         for d in dirs), "the jail to die with agentjail")
    report = doctor()
    assert report["cgroup"]["stale_removed"] >= 1
    assert our_dirs(host, proc.pid) == []


def wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")
