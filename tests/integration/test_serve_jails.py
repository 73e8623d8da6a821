"""`agentjail serve` with the jails it ships with (each run through the pipeline in a worker forked from the server): the
API's answers come from real jails, files go in and come back, DELETE and SIGTERM end real
runs, and nothing is left behind. The protocol itself is tested in test_serve.py."""
import glob
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import AGENTJAIL, requires_userns
from test_serve import UnixHTTPConnection

pytestmark = requires_userns


class RealServer:
    def __init__(self, *options):
        self.dir = tempfile.mkdtemp(prefix="aj-serve-jails-")
        self.socket = os.path.join(self.dir, "agentjail.sock")
        self.proc = subprocess.Popen([AGENTJAIL, "serve", "--socket", self.socket, *options],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            assert self.proc.poll() is None and time.monotonic() < deadline, self.proc.stderr.read()
            time.sleep(0.01)

    def post(self, body, path="/v1/runs"):
        connection = UnixHTTPConnection(self.socket, timeout=120)
        connection.request("POST", path, body=json.dumps(body))
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, json.loads(data)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        os.rmdir(self.dir) if os.path.isdir(self.dir) and not os.listdir(self.dir) else None
        return self.proc.returncode


@pytest.fixture(scope="module")
def server():
    s = RealServer("-p", "default", "-p", "python", "-p", "shell", "--max-jails", "4")
    yield s
    assert s.stop() == 0


def scratch_dirs():
    return set(glob.glob("/tmp/agentjail-serve-*"))


def test_real_run_answers_with_the_report(server):
    status, report = server.post({"id": "real-1", "policy": "shell", "command": ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]})
    assert status == 200
    assert report["id"] == "real-1"
    assert report["status"] == "exit" and report["exit_code"] == 3
    assert report["stdout"] == "out\n" and report["stderr"] == "err\n"
    assert report["caller_uid"] == os.getuid()
    assert report["enforcement"]["userns"] is True


def test_real_files_and_collect(server):
    before = scratch_dirs()
    code = ("import os\n"
            "print(open('/work/in.txt').read())\n"
            "open('/work/out/text.txt', 'w').write('é')\n"
            "open('/work/out/raw.bin', 'wb').write(bytes([255]))\n"
            "os.symlink('/etc/hostname', '/work/out/link')\n")
    status, report = server.post({"policy": "python", "command": ["python3", "/work/main.py"],
                                  "files": {"/work/main.py": code, "/work/in.txt": "hello", "/work/out/.keep": ""},
                                  "collect": ["/work/out/text.txt", "/work/out/raw.bin", "/work/out/link", "/work/nothing"]})
    assert status == 200, report
    assert report["status"] == "ok", report
    assert report["stdout"] == "hello\n"
    assert report["files"] == {"/work/out/text.txt": "é", "/work/out/raw.bin": {"base64": "/w=="},
                               "/work/out/link": None, "/work/nothing": None}
    assert scratch_dirs() == before


def test_real_limits_only_tighten(server):
    status, report = server.post({"policy": "python", "command": ["python3", "-c", "while True: pass"],
                                  "limits": {"wall_time": "500ms", "output": "1KiB"}})
    assert status == 200
    assert report["status"] in ("timeout", "cpu_limit"), report
    assert report["limits"]["wall_time_ms"] == 500
    assert server.post({"command": ["/bin/true"], "limits": {"wall_time": "1h"}})[0] == 400


def test_real_delete_ends_the_jail(server):
    connection = UnixHTTPConnection(server.socket, timeout=120)
    connection.request("POST", "/v1/runs", body=json.dumps({"id": "to-delete", "policy": "shell", "command": ["/bin/sleep", "60"]}))
    time.sleep(0.5)
    deleter = UnixHTTPConnection(server.socket)
    deleter.request("DELETE", "/v1/runs/to-delete")
    assert deleter.getresponse().status == 202
    deleter.close()
    started = time.monotonic()
    report = json.loads(connection.getresponse().read())
    connection.close()
    assert report["status"] == "signal", report
    assert time.monotonic() - started < 30


def test_real_execute_shape(server):
    status, body = server.post({"command": "echo $((6 * 7))"}, path="/execute")
    assert status == 200
    assert body == {"stdout": "42\n", "stderr": "", "exit_code": 0}


def test_real_sigterm_with_runs_going_leaves_nothing():
    before = scratch_dirs()
    s = RealServer("-p", "shell", "--max-jails", "8", "--grace", "300ms")
    connections = []
    for i in range(8):
        connection = UnixHTTPConnection(s.socket, timeout=120)
        connection.request("POST", "/v1/runs", body=json.dumps({
            "command": ["/bin/sh", "-c", "sleep 60 & sleep 60"], "files": {f"/work/f{i}": "x"}}))
        connections.append(connection)
    time.sleep(1.0)
    children = subprocess.run(["pgrep", "-P", str(s.proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == 8
    s.proc.send_signal(signal.SIGTERM)
    for connection in connections:
        assert json.loads(connection.getresponse().read())["status"] == "signal"
        connection.close()
    assert s.proc.wait(timeout=60) == 0
    assert not os.path.exists(s.socket)
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}"), f"agentjail run {pid} outlived the server"
    assert scratch_dirs() == before
    s.stop()


def uids_of_processes():
    uids = set()
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        uids.add(int(line.split()[1]))
        except (FileNotFoundError, NotADirectoryError, ProcessLookupError, PermissionError):
            pass
    return uids


@pytest.mark.skipif(os.geteuid() != 0, reason="the lease range is root's")
def test_uid_range_chooses_the_host_uid_of_servers_jails():
    solo = 1880000007  # no account, no default lease, no other test's range
    s = RealServer("-p", "shell", "--uid-range", f"{solo}-{solo}")
    try:
        import threading
        answer = {}
        worker = threading.Thread(target=lambda: answer.update(
            zip(("status", "report"), s.post({"policy": "shell", "command": ["/bin/sleep", "3"]}))))
        worker.start()
        deadline = time.monotonic() + 30
        seen = False
        while not seen and worker.is_alive() and time.monotonic() < deadline:
            seen = solo in uids_of_processes()
            time.sleep(0.05)
        worker.join(timeout=120)
        assert answer["status"] == 200 and answer["report"]["status"] == "ok", answer
        assert seen, "no process of the jail ran as the --uid-range uid"
    finally:
        assert s.stop() == 0


def test_a_bad_uid_range_stops_serve_before_it_listens():
    d = tempfile.mkdtemp(prefix="aj-serve-jails-")
    r = subprocess.run([AGENTJAIL, "serve", "--socket", os.path.join(d, "s"), "-p", "shell", "--uid-range", "9-3"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 125, r
    assert "--uid-range" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not os.path.exists(os.path.join(d, "s"))
    os.rmdir(d)
