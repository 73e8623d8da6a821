"""`agentjail serve --pool NAME=N`: jails built before the request, each running exactly one
command and then destroyed. A pooled run answers with the report `run --json` prints; the pool
refills; two pooled runs see nothing of each other; what a pooled jail cannot serve is built
cold; health and metrics show the pool; SIGTERM and SIGKILL of the server with pooled and
running jails leave no process, mount or cgroup."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import requires_userns, run
from test_serve import UnixHTTPConnection
from test_serve_isolation import descendants
from test_serve_jails import RealServer, scratch_dirs

pytestmark = requires_userns


def get(server, path):
    connection = UnixHTTPConnection(server.socket, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    return response.status, body


def health(server):
    return json.loads(get(server, "/v1/health")[1])


def wait_ready(server, policy, count, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pools = health(server)["pools"]
        if pools[policy]["ready"] >= count:
            return pools
        time.sleep(0.05)
    raise AssertionError(f"pool {policy} never reached {count} ready: {health(server)}")


def pool_runs(server, policy):
    """agentjail_pool_runs_total of `policy`: {"pooled": N, "cold": N}."""
    text = get(server, "/v1/metrics")[1]
    out = {"pooled": 0, "cold": 0}
    for line in text.splitlines():
        match = re.match(r'agentjail_pool_runs_total\{policy="([^"]+)",jail="(\w+)"\} (\S+)', line)
        if match and match.group(1) == policy:
            out[match.group(2)] = int(float(match.group(3)))
    return out


@pytest.fixture(scope="module")
def server():
    s = RealServer("-p", "shell", "-p", "python", "--pool", "shell=2", "--max-jails", "6")
    wait_ready(s, "shell", 2)
    yield s
    assert s.stop() == 0


def pooled(server, script, **extra):
    before = pool_runs(server, "shell")
    wait_ready(server, "shell", 1)
    status, report = server.post({"policy": "shell", "command": ["/bin/sh", "-c", script], **extra})
    assert status == 200, report
    after = pool_runs(server, "shell")
    assert after["pooled"] == before["pooled"] + 1, (before, after, report)
    return report


def test_health_and_metrics_show_the_pool(server):
    wait_ready(server, "shell", 2)
    assert health(server)["pools"] == {"shell": {"ready": 2, "target": 2}}
    text = get(server, "/v1/metrics")[1]
    assert 'agentjail_pool_ready{policy="shell"} 2' in text
    assert 'agentjail_pool_target{policy="shell"} 2' in text
    assert "# TYPE agentjail_pool_runs_total counter" in text


def test_pooled_run_answers_as_run_json(server):
    report = pooled(server, "echo out; echo err >&2; exit 3")
    assert report["status"] == "exit" and report["exit_code"] == 3, report
    assert report["stdout"] == "out\n" and report["stderr"] == "err\n"
    assert report["caller_uid"] == os.getuid()
    cold = run("/bin/sh", "-c", "exit 3", policy="shell", json_mode=True)
    assert cold.report is not None, cold
    assert set(report) == set(cold.report) | {"caller_uid"}, set(report) ^ set(cold.report)
    for key, value in cold.report.items():
        if isinstance(value, dict):
            assert set(report[key]) == set(value), key
    assert report["policy"] == cold.report["policy"]


def test_the_pool_refills(server):
    for _ in range(3):
        pooled(server, "true")
    pools = wait_ready(server, "shell", 2)
    assert pools["shell"] == {"ready": 2, "target": 2}


def test_two_pooled_runs_see_no_trace_of_each_other(server):
    script = ("echo secret > /tmp/left; sleep 1000 & "
              "for ns in pid mnt ipc uts net user cgroup; do readlink /proc/self/ns/$ns; done; env")
    first = pooled(server, script, env={"LEAKED_VAR": "from-run-one"})
    assert first["status"] == "ok", first
    assert "LEAKED_VAR=from-run-one" in first["stdout"]
    second = pooled(server, "test -e /tmp/left && echo FOUND-FILE; ls -A /tmp; "
                            "for p in /proc/[0-9]*; do cat $p/comm; done; "
                            "for ns in pid mnt ipc uts net user cgroup; do readlink /proc/self/ns/$ns; done; env")
    assert second["status"] == "ok", second
    out = second["stdout"]
    assert "FOUND-FILE" not in out and "left" not in out, out
    assert "sleep" not in out, out
    assert "LEAKED_VAR" not in out, out
    mine = [line for line in first["stdout"].splitlines() if line.endswith("]") and ":[" in line]
    theirs = [line for line in out.splitlines() if line.endswith("]") and ":[" in line]
    assert len(mine) == len(theirs) == 7, (mine, theirs)
    for a, b in zip(mine, theirs):
        assert a != b, f"{a} was reused by the next pooled run"


def test_stdin_env_and_limits_reach_the_pooled_command(server):
    report = pooled(server, "cat; echo \"[$GREETING]\"; ulimit -n", stdin="from stdin\n",
                    env={"GREETING": "hello"}, limits={"open_files": 40})
    assert report["status"] == "ok", report
    assert report["stdout"] == "from stdin\n[hello]\n40\n", report["stdout"]
    assert report["status"] == "ok"  # RLIMIT_NOFILE 40 applied (ulimit -n above)


def test_wall_time_counts_from_the_command(server):
    # The pooled jail has waited longer than the run's wall time: only the command's time counts.
    wait_ready(server, "shell", 2)
    time.sleep(1.2)
    report = pooled(server, "sleep 0.1", limits={"wall_time": "1s"})
    assert report["status"] == "ok", report
    assert report["wall_time_ms"] < 1000
    report = pooled(server, "sleep 5", limits={"wall_time": "300ms"})
    assert report["status"] == "timeout", report


def test_missing_command_in_a_pooled_jail_is_127(server):
    report = pooled(server, "exec /no/such/program")
    assert report["exit_code"] == 127, report
    status, report = server.post({"policy": "shell", "command": ["no-such-program-here"]})
    assert status == 200 and report["exit_code"] == 127, report


def test_what_the_pool_cannot_serve_is_built_cold(server):
    wait_ready(server, "shell", 2)
    before = pool_runs(server, "shell")
    status, report = server.post({"policy": "shell", "command": ["/bin/cat", "/work/a"], "files": {"/work/a": "file"}})
    assert status == 200 and report["status"] == "ok" and report["stdout"] == "file", report
    status, report = server.post({"policy": "shell", "command": ["/bin/true"], "limits": {"memory": "64MiB"}})
    assert status == 200 and report["status"] == "ok", report
    assert report["limits"]["memory_bytes"] == 64 << 20
    # Another policy has no pool at all: cold, and not counted as the shell pool's.
    status, report = server.post({"policy": "python", "command": ["python3", "-c", "print(1)"]})
    assert status == 200 and report["stdout"] == "1\n", report
    after = pool_runs(server, "shell")
    assert after == {"pooled": before["pooled"], "cold": before["cold"] + 2}, (before, after)
    assert health(server)["pools"]["shell"]["ready"] == 2  # the pooled jails were not used


def our_cgroups(pids):
    """The agentjail cgroup directories created by any of `pids` (named agentjail-<pid>-...)."""
    found = subprocess.run(["find", "/sys/fs/cgroup", "-maxdepth", "8", "-type", "d", "-name", "agentjail-*"],
                           capture_output=True, text=True).stdout.split()
    names = tuple(f"agentjail-{pid}-" for pid in pids)
    return [path for path in found if os.path.basename(path).startswith(names)]


def twenty_jails():
    """A server with 10 pooled jails waiting and 10 runs going (5 in pooled jails, 5 built cold
    for their files), every process it started and the cgroups they made."""
    s = RealServer("-p", "shell", "--pool", "shell=15", "--max-jails", "10", "--grace", "300ms")
    wait_ready(s, "shell", 15, timeout=120)
    connections = []
    for i in range(10):
        connection = UnixHTTPConnection(s.socket, timeout=120)
        body = {"id": f"pool-kill-{i}", "command": ["/bin/sh", "-c", "sleep 1000 & sleep 1000"]}
        if i % 2:
            body["files"] = {"/work/f": "x"}
        connection.request("POST", "/v1/runs", body=json.dumps(body))
        connections.append(connection)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tree = descendants(s.proc.pid)
        # 20 workers with a jail each: worker + init, and sh + 2 sleeps in the 10 running.
        if len(tree) >= 20 * 2 + 10 * 2 and health(s)["pools"]["shell"]["ready"] >= 10:
            break
        time.sleep(0.1)
    tree = descendants(s.proc.pid)
    assert len(tree) >= 20 * 2 + 10 * 2, tree
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(s.proc.pid)], capture_output=True,
                                               text=True).stdout.split()]
    assert len(workers) == 20, workers
    cgroups = our_cgroups(workers)
    if cgroup_enforced():
        assert len(cgroups) >= 20, cgroups  # one per jail: the check below can fail
    return s, connections, tree, workers, cgroups


def cgroup_enforced():
    probe = run("/bin/true", policy="shell", json_mode=True)
    return probe.report is not None and probe.report["enforcement"].get("cgroup") not in (None, "none")


def assert_nothing_left(tree, workers, cgroups):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (any(os.path.exists(f"/proc/{pid}") for pid in tree) or our_cgroups(workers)):
        time.sleep(0.1)
    left = [pid for pid in tree if os.path.exists(f"/proc/{pid}")]
    assert not left, f"processes outlived the server: {left}"
    assert our_cgroups(workers) == [], "cgroups left behind"
    with open("/proc/self/mountinfo") as f:
        assert "agentjail-serve-" not in f.read()


def test_sigterm_with_twenty_jails_leaves_nothing():
    before = scratch_dirs()
    s, connections, tree, workers, cgroups = twenty_jails()
    s.proc.send_signal(signal.SIGTERM)
    for connection in connections:
        assert json.loads(connection.getresponse().read())["status"] == "signal"
        connection.close()
    assert s.proc.wait(timeout=60) == 0
    assert_nothing_left(tree, workers, cgroups)
    assert scratch_dirs() == before
    s.stop()


def test_sigkill_with_twenty_jails_leaves_nothing():
    before = scratch_dirs()
    s, connections, tree, workers, cgroups = twenty_jails()
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait(timeout=10)
    for connection in connections:
        connection.close()
    assert_nothing_left(tree, workers, cgroups)
    assert scratch_dirs() == before
    os.unlink(s.socket)
    s.stop()
