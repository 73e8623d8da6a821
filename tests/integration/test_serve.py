"""`agentjail serve`'s HTTP API over a real unix socket, spoken by Python's http.client and by
curl --unix-socket, against agentjail-fake (the same command with a fake executor, so every
protocol behaviour is tested on any machine; the jails themselves are tested elsewhere).
"""
import http.client
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import AGENTJAIL

FAKE = os.environ.get("AGENTJAIL_FAKE", os.path.join(os.path.dirname(AGENTJAIL), "tests", "agentjail-fake"))
pytestmark = pytest.mark.skipif(not os.path.exists(FAKE), reason="agentjail-fake is not built")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class Server:
    def __init__(self, *options, socket_path=None):
        self.dir = tempfile.mkdtemp(prefix="aj-serve-")
        self.socket = socket_path or os.path.join(self.dir, "agentjail.sock")
        self.proc = subprocess.Popen([FAKE, "serve", "--socket", self.socket, *options],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("server did not start: " + self.proc.stderr.read())
            time.sleep(0.01)

    def _listening(self):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(self.socket)
            return True
        except OSError:
            return False

    def request(self, method, path, body=None, headers=None):
        connection = UnixHTTPConnection(self.socket)
        try:
            payload = json.dumps(body) if isinstance(body, (dict, list)) else body
            connection.request(method, path, body=payload, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), data
        finally:
            connection.close()

    def json(self, method, path, body=None, headers=None):
        status, response_headers, data = self.request(method, path, body, headers)
        return status, response_headers, json.loads(data) if data else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        stderr = self.proc.stderr.read()
        shutil.rmtree(self.dir, ignore_errors=True)
        return stderr


@pytest.fixture
def server():
    s = Server("--policy", "default", "--policy", "python", "--pool", "python=3", "--max-jails", "2", "--queue", "1")
    yield s
    s.stop()


def test_health_names_the_pools(server):
    status, headers, body = server.json("GET", "/v1/health")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == {"ok": True, "pools": {"python": {"ready": 3, "target": 3}}}


def test_run_returns_the_report_with_caller_uid_and_files(server):
    status, _, body = server.json("POST", "/v1/runs", {
        "policy": "python", "command": ["echo", "hi"], "files": {"/work/a.txt": "A", "/work/b.bin": {"base64": "/wA="}},
        "collect": ["/work/a.txt", "/work/b.bin", "/missing"], "limits": {"wall_time": "5s"}})
    assert status == 200
    assert body["status"] == "ok"
    assert body["stdout"] == "hi\n"
    assert body["schema"] == 1
    assert body["caller_uid"] == os.getuid()
    assert body["limits"]["wall_time_ms"] == 5000
    assert body["files"] == {"/work/a.txt": "A", "/work/b.bin": {"base64": "/wA="}, "/missing": None}


def test_bad_requests_get_their_status(server):
    assert server.json("POST", "/v1/runs", "{not json")[0] == 400
    status, _, body = server.json("POST", "/v1/runs", {"policy": "ruby", "command": ["x"]})
    assert status == 404 and "unknown policy" in body["error"]
    status, _, body = server.json("POST", "/v1/runs", {"command": ["x"], "limits": {"memory": "1TiB"}})
    assert status == 400 and "above the policy's" in body["error"]
    status, _, body = server.json("POST", "/v1/runs", {"command": ["x"], "policy": {"toml": "version = 1"}})
    assert status == 403
    assert server.json("DELETE", "/v1/runs/nothing")[0] == 404
    assert server.json("PUT", "/v1/health")[0] == 405


def test_oversized_body_is_413():
    s = Server("--max-body", "1KiB")
    try:
        status, headers, body = s.json("POST", "/v1/runs", {"command": ["echo", "x" * 2000]})
        assert status == 413
        assert "larger than 1024 bytes" in body["error"]
        assert headers["Connection"] == "close"
    finally:
        s.stop()


def test_stream_with_curl(server):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    proc = subprocess.run(["curl", "-sS", "-N", "--unix-socket", server.socket, "-H", "Content-Type: application/json",
                           "-d", json.dumps({"id": "c1", "command": ["spew", "1001"]}),
                           "http://localhost/v1/runs?stream=ndjson"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[0] == {"id": "c1"}
    assert "".join(line.get("stdout", "") for line in lines[1:-1]) == "é" * 500 + "\ufffd"
    assert lines[-1]["report"]["status"] == "ok"


def test_delete_ends_a_run(server):
    connection = UnixHTTPConnection(server.socket)
    connection.request("POST", "/v1/runs", body=json.dumps({"id": "long", "command": ["sleep", "60"]}))
    time.sleep(0.2)
    status, _, body = server.json("DELETE", "/v1/runs/long")
    assert status == 202 and body == {"id": "long", "cancelled": True}
    report = json.loads(connection.getresponse().read())
    connection.close()
    assert report["status"] == "signal"


def test_busy_server_answers_503_with_retry_after(server):
    waiting = []
    for i in range(3):  # --max-jails 2 and --queue 1: three fit
        connection = UnixHTTPConnection(server.socket)
        connection.request("POST", "/v1/runs", body=json.dumps({"id": f"b{i}", "command": ["sleep", "0.5"]}))
        waiting.append(connection)
    time.sleep(0.2)
    status, headers, body = server.json("POST", "/v1/runs", {"command": ["echo"]})
    assert status == 503
    assert headers["Retry-After"] == "1"
    for connection in waiting:
        assert json.loads(connection.getresponse().read())["status"] == "ok"
        connection.close()


def test_thousand_connections_opened_and_dropped_leave_nothing(server):
    for i in range(1000):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(server.socket)
        if i % 3 == 1:
            sock.sendall(b"POST /v1/runs HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"comm")
        elif i % 3 == 2:
            body = json.dumps({"command": ["sleep", "30"]}).encode()
            sock.sendall(b"POST /v1/runs HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        sock.close()
    deadline = time.monotonic() + 20
    while True:
        _, _, metrics = server.request("GET", "/v1/metrics")
        text = metrics.decode()
        if ("agentjail_runs_active 0" in text and "agentjail_connections 1" in text
                and "agentjail_runs_queued 0" in text) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "agentjail_runs_active 0\n" in text
    assert "agentjail_runs_queued 0\n" in text
    assert "agentjail_connections 1\n" in text  # this request's own


def test_metrics_are_prometheus_text(server):
    server.json("POST", "/v1/runs", {"command": ["fail", "2"]})
    status, headers, data = server.request("GET", "/v1/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = data.decode()
    assert 'agentjail_runs_total{status="exit"} 1' in text
    assert 'agentjail_pool_target{policy="python"} 3' in text
    assert "# TYPE agentjail_request_duration_seconds histogram" in text
    assert 'agentjail_request_duration_seconds_bucket{route="POST /v1/runs",le="+Inf"} 1' in text


def test_agent_sandbox_execute(server):
    status, _, body = server.json("POST", "/execute", {"command": "echo hi"})
    assert status == 200
    assert set(body) == {"stdout", "stderr", "exit_code"}


def test_unauthorised_uid_is_refused_and_logged():
    s = Server("--allow-uid", str(os.getuid() + 4242))
    try:
        status, _, body = s.json("POST", "/v1/runs", {"command": ["echo"]})
        assert status == 403
        assert "--allow-uid" in body["error"]
    finally:
        stderr = s.stop()
    assert f"refused a connection from uid {os.getuid()}" in stderr


def test_socket_mode_and_stale_socket():
    s = Server("--socket-mode", "0600")
    try:
        assert stat.S_IMODE(os.lstat(s.socket).st_mode) == 0o600
        second = subprocess.run([FAKE, "serve", "--socket", s.socket], capture_output=True, text=True, timeout=30)
        assert second.returncode == 125
        assert "another server is listening" in second.stderr
        os.kill(s.proc.pid, signal.SIGKILL)  # dies without removing its socket
        s.proc.wait()
        assert stat.S_ISSOCK(os.lstat(s.socket).st_mode)
        again = Server("--socket-mode", "0660", socket_path=s.socket)
        try:
            assert stat.S_IMODE(os.lstat(again.socket).st_mode) == 0o660
            assert again.json("GET", "/v1/health")[0] == 200
        finally:
            again.stop()
    finally:
        s.stop()


def test_socket_path_that_is_a_symlink_is_refused():
    directory = tempfile.mkdtemp(prefix="aj-serve-")
    try:
        target = os.path.join(directory, "precious")
        with open(target, "w") as f:
            f.write("keep")
        link = os.path.join(directory, "agentjail.sock")
        os.symlink(target, link)
        proc = subprocess.run([FAKE, "serve", "--socket", link], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 125
        assert "symlink" in proc.stderr
        assert open(target).read() == "keep"
    finally:
        shutil.rmtree(directory)


def test_sigterm_drains_and_removes_the_socket():
    s = Server("--grace", "200ms")
    connection = UnixHTTPConnection(s.socket)
    connection.request("POST", "/v1/runs", body=json.dumps({"command": ["sleep", "60"]}))
    time.sleep(0.2)
    s.proc.send_signal(signal.SIGTERM)
    report = json.loads(connection.getresponse().read())
    connection.close()
    assert report["status"] == "signal"
    assert s.proc.wait(timeout=30) == 0
    assert not os.path.exists(s.socket)
    s.stop()


def token_file(directory, mode=0o600, token="0123456789abcdef0123"):
    path = os.path.join(directory, "token")
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, mode)
    return path


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tcp_listener_needs_the_bearer_token():
    directory = tempfile.mkdtemp(prefix="aj-token-")
    try:
        port = free_port()
        s = Server("--listen", f"127.0.0.1:{port}", "--token-file", token_file(directory))
        try:
            def get(headers):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("GET", "/v1/health", headers=headers)
                response = connection.getresponse()
                result = response.status, response.getheader("WWW-Authenticate"), response.read()
                connection.close()
                return result
            status, challenge, _ = get({})
            assert status == 401 and challenge == "Bearer"
            assert get({"Authorization": "Bearer wrong-token-wrong-token"})[0] == 401
            assert get({"Authorization": "Bearer 0123456789abcdef0123"})[0] == 200
            assert s.json("GET", "/v1/health")[0] == 200  # the unix socket needs no token
        finally:
            s.stop()
        refused = subprocess.run([FAKE, "serve", "--socket", os.path.join(directory, "s"), "--listen",
                                  f"127.0.0.1:{port}", "--token-file", token_file(directory, 0o644)],
                                 capture_output=True, text=True, timeout=30)
        assert refused.returncode == 125 and "chmod 600" in refused.stderr
        no_token = subprocess.run([FAKE, "serve", "--socket", os.path.join(directory, "s"), "--listen", f"127.0.0.1:{port}"],
                                  capture_output=True, text=True, timeout=30)
        assert no_token.returncode == 125 and "--token-file" in no_token.stderr
    finally:
        shutil.rmtree(directory)
