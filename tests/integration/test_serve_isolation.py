"""`agentjail serve`'s in-process jails: nothing passes from one run to the next or between two
at once, output streams as it comes, collected files never follow a symlink the jail planted,
and a SIGKILLed server leaves no process, scratch directory, mount or cgroup behind."""
import json
import os
import signal
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import requires_userns
from test_serve import UnixHTTPConnection
from test_serve_jails import RealServer, scratch_dirs

pytestmark = requires_userns


@pytest.fixture(scope="module")
def server():
    s = RealServer("-p", "shell", "-p", "python", "--max-jails", "4")
    yield s
    assert s.stop() == 0


def sh(server, script, *args, **extra):
    status, report = server.post({"policy": "shell", "command": ["/bin/sh", "-c", script, "sh", *args], **extra})
    assert status == 200, report
    return report


NAMESPACES = ("pid", "mnt", "ipc", "uts", "net", "user")


def open_namespaces_of(marker, deadline):
    """Opens the six namespaces of the host process whose argv holds `marker` (a jailed one),
    as fds: while we hold them the kernel keeps those namespaces, and their inode numbers
    cannot be given to any other."""
    while time.monotonic() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker.encode() not in f.read().split(b"\0"):
                        continue
                return {ns: os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in NAMESPACES}
            except OSError:
                continue  # gone, or not ours to open: keep looking
        time.sleep(0.01)
    raise AssertionError(f"no process with {marker} in its argv")


def test_consecutive_runs_get_new_namespaces(server):
    """Run N+1 is not in run N's namespaces. Namespace inode numbers are unique only among
    namespaces alive at once (a freed one's number is reused), so run N's namespaces are held
    open from here until run N+1 has reported its own: a server that handed run N's jail to the
    next request would show it the very namespaces held, with the same numbers."""
    marker = f"aj-ns-marker-{os.getpid()}-{time.monotonic_ns()}"
    script = "for ns in " + " ".join(NAMESPACES) + "; do readlink /proc/self/ns/$ns; done"
    first = {}
    # The first run stays up (its sh, argv naming the marker, waits) until its namespaces are held.
    thread = threading.Thread(target=lambda: first.update(sh(server, script + "; sleep 2; true", marker)))
    thread.start()
    held = {}
    try:
        held = open_namespaces_of(marker, time.monotonic() + 30)
        thread.join(timeout=60)
        assert first.get("status") == "ok", first
        a = first["stdout"].split()
        assert len(a) == 6, a
        # What we hold is the first run's: e.g. "pid:[4026532301]" is the inode of the pid fd.
        for ns, link in zip(NAMESPACES, a):
            assert link == f"{ns}:[{os.fstat(held[ns]).st_ino}]", (ns, link)
        second = sh(server, script)
        assert second["status"] == "ok", second
        b = second["stdout"].split()
        assert len(b) == 6, b
        for mine, next_one in zip(a, b):
            assert mine != next_one, f"{mine} was reused by the next run"
    finally:
        thread.join(timeout=60)
        for fd in held.values():
            os.close(fd)


def test_nothing_left_for_the_next_run(server):
    first = sh(server, "echo secret > /tmp/left; sleep 1000 & echo started $!")
    assert first["status"] == "ok" and first["stdout"].startswith("started "), first
    second = sh(server, "ls -A /tmp; ps -e -o comm= 2>/dev/null || ls /proc | grep -c '^[0-9]'; "
                        "test -e /tmp/left && echo FOUND-FILE; "
                        "for p in /proc/[0-9]*; do cat $p/comm; done")
    assert second["status"] == "ok", second
    assert "FOUND-FILE" not in second["stdout"] and "left" not in second["stdout"], second["stdout"]
    assert "sleep" not in second["stdout"], second["stdout"]


def test_concurrent_runs_cannot_see_each_other(server):
    # Each run leaves a marker file, a process whose argv names it and an abstract socket, waits
    # for the other to be up, then looks for the other's (and still sees its own: the probe ran).
    probe = ("import os, socket, sys, time\n"
             "me, other = sys.argv[1], sys.argv[2]\n"
             "open('/tmp/' + me, 'w').write(me)\n"
             "s = socket.socket(socket.AF_UNIX); s.bind('\\0aj-' + me); s.listen()\n"
             "time.sleep(1.5)\n"
             "seen = []\n"
             "if os.path.exists('/tmp/' + other): seen.append('file')\n"
             "for p in os.listdir('/proc'):\n"
             "    if p.isdigit():\n"
             "        try: cmd = open('/proc/%s/cmdline' % p, 'rb').read()\n"
             "        except OSError: continue\n"
             "        args = cmd.split(b'\\0')\n"
             "        if len(args) > 3 and args[3] == other.encode(): seen.append('process')\n"
             "c = socket.socket(socket.AF_UNIX)\n"
             "try: c.connect('\\0aj-' + other); seen.append('socket')\n"
             "except OSError: pass\n"
             "mine = os.path.exists('/tmp/' + me) and any(open('/proc/%s/cmdline' % p, 'rb').read().split(b'\\0')[3:4] == [me.encode()] for p in os.listdir('/proc') if p.isdigit())\n"
             "print('mine ok' if mine else 'mine missing', sorted(set(seen)))\n")
    results = {}

    def run(me, other):
        results[me] = server.post({"policy": "python", "command": ["python3", "-c", probe, me, other]})

    threads = [threading.Thread(target=run, args=pair) for pair in (("alpha", "beta"), ("beta", "alpha"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for me in ("alpha", "beta"):
        status, report = results[me]
        assert status == 200 and report["status"] == "ok", report
        assert report["stdout"] == "mine ok []\n", report["stdout"]


def test_stream_sends_output_before_the_report(server):
    connection = UnixHTTPConnection(server.socket, timeout=60)
    connection.request("POST", "/v1/runs?stream=ndjson", body=json.dumps(
        {"policy": "shell", "command": ["/bin/sh", "-c", "echo one; sleep 1; echo two >&2"]}))
    response = connection.getresponse()
    assert response.status == 200
    lines = [json.loads(line) for line in response.read().decode().splitlines()]
    connection.close()
    assert "id" in lines[0]
    assert {"stdout": "one\n"} in lines and {"stderr": "two\n"} in lines, lines
    assert lines.index({"stdout": "one\n"}) < lines.index({"stderr": "two\n"}) < len(lines) - 1
    assert lines[-1]["report"]["stdout"] == "one\n" and lines[-1]["report"]["status"] == "ok"


def test_collect_never_follows_a_planted_symlink(server):
    secret = "/tmp/aj-serve-host-secret"
    with open(secret, "w") as f:
        f.write("host secret")
    try:
        report = sh(server, f"mkdir -p /work/d && ln -s {secret} /work/out && ln -s / /work/root",
                    files={"/work/.keep": ""}, collect=["/work/out", "/work/root/tmp/aj-serve-host-secret"])
        assert report["status"] == "ok", report
        assert report["files"] == {"/work/out": None, "/work/root/tmp/aj-serve-host-secret": None}
    finally:
        os.unlink(secret)


def descendants(pid):
    out = []
    for child in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        out.append(int(child))
        out.extend(descendants(int(child)))
    return out


def cgroups_named(ids):
    found = subprocess.run(["find", "/sys/fs/cgroup", "-maxdepth", "8", "-type", "d", "-name", "agentjail-*"],
                           capture_output=True, text=True).stdout.split()
    return [path for path in found if any(run_id in path for run_id in ids)]


def test_sigkill_of_the_server_leaves_nothing():
    before = scratch_dirs()
    s = RealServer("-p", "shell", "--max-jails", "6")
    ids = [f"killed-{i}-{os.getpid()}" for i in range(6)]
    connections = []
    for run_id in ids:
        connection = UnixHTTPConnection(s.socket, timeout=60)
        connection.request("POST", "/v1/runs", body=json.dumps({
            "id": run_id, "command": ["/bin/sh", "-c", "sleep 1000 & sleep 1000"], "files": {"/work/f": "x"}}))
        connections.append(connection)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tree = descendants(s.proc.pid)
        if len(tree) >= 6 * 4:  # worker, init, sh and two sleeps (sh may exec one)
            break
        time.sleep(0.1)
    tree = descendants(s.proc.pid)
    assert len(tree) >= 6 * 3, tree
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait(timeout=10)
    for connection in connections:
        connection.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in tree):
        time.sleep(0.1)
    left = [pid for pid in tree if os.path.exists(f"/proc/{pid}")]
    assert not left, f"processes outlived the SIGKILLed server: {left}"
    assert scratch_dirs() == before
    with open("/proc/self/mountinfo") as f:
        assert "agentjail-serve-" not in f.read()
    assert cgroups_named(ids) == []
    os.unlink(s.socket)
    s.stop()


def test_python_client_against_the_real_server(server):
    import sys
    from conftest import SOURCE_DIR
    sys.path.insert(0, os.path.join(SOURCE_DIR, "clients", "python"))
    from agentjail import Sandbox

    sandbox = Sandbox(socket=server.socket)
    assert sandbox.mode == "server"
    result = sandbox.run(["/bin/sh", "-c", "cat /work/in.txt; printf '\\377' > /work/out.bin; cat"],
                         stdin="from stdin", files={"/work/in.txt": "file "}, collect=["/work/out.bin"], timeout=20)
    assert result.ok, result.raw
    assert result.stdout == "file from stdin"
    assert result.files == {"/work/out.bin": b"\xff"}
    assert result.raw["caller_uid"] == os.getuid()
    code = sandbox.run_code("import sys; print(sys.version_info[0])", language="python")
    assert code.ok and code.stdout == "3\n", code.raw


def test_audit_log_names_the_caller():
    log = os.path.join(tempfile.mkdtemp(prefix="aj-serve-audit-"), "audit.jsonl")
    s = RealServer("-p", "shell", "--audit-log", log)
    try:
        status, report = s.post({"id": "audited-run", "command": ["/bin/true"]})
        assert status == 200 and report["status"] == "ok", report
    finally:
        assert s.stop() == 0
    with open(log) as f:
        lines = [json.loads(line) for line in f]
    assert [line["caller_uid"] for line in lines if line.get("id") == "audited-run"] == [os.getuid()], lines
    shutil.rmtree(os.path.dirname(log))
