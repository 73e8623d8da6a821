"""The network broker (src/net) without a jail: tests/net/harness.py builds a network namespace
with only lo, test servers on it and the broker driver, which runs each client in a second
namespace set up as the jail's init will (AnyIP routes, listeners). Every address named here
(10.0.0.1, 169.254.169.254, 8.8.8.8) exists only inside those namespaces: nothing can leave
the machine, whatever the broker does.

Each refusal is checked three ways: the client fails at once, the report has exactly the one
`denied` entry, and the server it would have reached accepted nothing.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import AGENTJAIL, NOBODY, SOURCE_DIR, as_other_user, as_user_prefix, is_root, staged_file

DRIVER = os.environ.get("AGENTJAIL_BROKER_DRIVER", os.path.join(os.path.dirname(AGENTJAIL), "broker_driver"))
HARNESS = os.path.join(SOURCE_DIR, "tests", "net", "harness.py")
PYTHON = "/usr/bin/python3"

BASE = {"allow": ["allowed.test", "other.test:8443", "allowed.test:8080", "allowed.test:2525",
                  "rebind.test", "meta.test", "up.test", "127.0.0.1/32:80"],
        "resolve": {"allowed.test": "127.0.0.1", "other.test": "127.0.0.1"}}


def namespaces_work():
    if not os.path.exists(DRIVER):
        return f"{DRIVER} not built"
    if not shutil.which("unshare") or not shutil.which("ip") or not shutil.which("openssl"):
        return "needs unshare, ip and openssl"
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    if probe.returncode != 0:
        return "cannot create user and network namespaces here: " + probe.stderr.decode(errors="replace")
    return None


pytestmark = pytest.mark.skipif(namespaces_work() is not None, reason=namespaces_work() or "")


class Scenario:
    def __init__(self, out):
        self.code = out["code"]
        self.stdout = out["stdout"]
        self.stderr = out["stderr"]
        self.report = out["report"]
        self.accepts = out["accepts"]
        self.received = out["received"]

    @property
    def denied(self):
        return self.report["denied"]

    @property
    def connections(self):
        return self.report["connections"]

    def __repr__(self):
        return (f"<exit {self.code} stdout={self.stdout[-1500:]!r} stderr={self.stderr[-1500:]!r} "
                f"accepts={self.accepts} report={json.dumps(self.report)}>")


def scenario(command, config=None, env=None, user=None, driver_options=()):
    spec = {"config": {**BASE, **(config or {})}, "command": command, "env": env or {},
            "driver_options": list(driver_options)}
    tmp = tempfile.mkdtemp(prefix="aj-net-test-")
    os.chmod(tmp, 0o777)
    try:
        spec_path, out_path = os.path.join(tmp, "spec.json"), os.path.join(tmp, "out.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        harness, driver = HARNESS, DRIVER
        if as_other_user(user) and is_root():
            # The clone may be one only root can enter: run copies the other user can reach.
            harness, driver = staged_file(HARNESS), staged_file(DRIVER)
        argv = ["unshare", "-rn", PYTHON, harness, driver, spec_path, out_path]
        if user is not None:
            argv = as_user_prefix(user, user) + argv
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0 and os.path.exists(out_path), proc.stderr[-3000:]
        with open(out_path) as f:
            return Scenario(json.load(f))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def curl(*args):
    return ["curl", "-sS", "--max-time", "10", "--cacert", "{ca}", *args]


def py(code):
    return [PYTHON, "-c", code]


def only_denial(s, **expected):
    assert len(s.denied) == 1, s
    entry = s.denied[0]
    for key, value in expected.items():
        assert entry[key] == value, (key, s)
    assert s.report["denied_total"] == entry["count"], s
    return entry


# ---- what is allowed gets through -------------------------------------------------------------

def test_allowed_http_and_https_with_curl():
    s = scenario(["sh", "-c", "curl -sS --noproxy '*' --max-time 10 http://allowed.test/a && "
                              "curl -sS --noproxy '*' --max-time 10 --cacert {ca} https://allowed.test/b"])
    assert s.code == 0, s
    assert s.stdout == "ok allowed.test /a\nok allowed.test /b\n", s
    assert s.denied == [], s
    assert [(c["host"], c["port"], c["address"], c["via"]) for c in s.connections] == [
        ("allowed.test", 80, "127.0.0.1", "transparent"), ("allowed.test", 443, "127.0.0.1", "transparent")], s
    for c in s.connections:
        assert c["bytes_out"] > 0 and c["bytes_in"] > 0 and c["ms"] >= 0, s
    assert s.report["connections_total"] == 2 and s.report["mode"] == "allowlist"


def test_allowed_https_with_python_urllib_and_proxy_variables_unset_or_set():
    code = ("import ssl, urllib.request; ctx = ssl.create_default_context(cafile='{ca}'); "
            "print(urllib.request.urlopen('https://allowed.test/u', context=ctx).read().decode(), end='')")
    plain = scenario(py(code))
    assert plain.code == 0 and plain.stdout == "ok allowed.test /u\n", plain
    assert plain.connections[0]["via"] == "transparent"
    proxied = scenario(py(code), env={"https_proxy": "http://127.0.0.1:3128"})
    assert proxied.code == 0 and proxied.stdout == "ok allowed.test /u\n", proxied
    assert [c["via"] for c in proxied.connections] == ["proxy"], proxied
    assert proxied.denied == [], proxied


def test_proxy_connect_and_absolute_form():
    s = scenario(["sh", "-c", "curl -sS --max-time 10 -x http://127.0.0.1:3128 http://allowed.test/plain && "
                              "curl -sS --max-time 10 --cacert {ca} -x http://127.0.0.1:3128 https://allowed.test/tls"])
    assert s.code == 0, s
    assert s.stdout == "ok allowed.test /plain\nok allowed.test /tls\n", s
    assert [c["via"] for c in s.connections] == ["proxy", "proxy"], s


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_allowed_https_with_node_fetch():
    code = "fetch('https://allowed.test/n').then(r => r.text()).then(t => process.stdout.write(t))"
    s = scenario(["node", "-e", code], env={"NODE_EXTRA_CA_CERTS": "{ca}"})
    if "fetch is not defined" in s.stderr:
        pytest.skip("this node has no fetch")
    assert s.code == 0 and s.stdout == "ok allowed.test /n\n", s


def test_ipv6_clients_reach_allowed_names():
    s = scenario(curl("-6", "--noproxy", "*", "http://allowed.test/six"))
    assert s.code == 0 and s.stdout == "ok allowed.test /six\n", s
    assert s.connections[0]["host"] == "allowed.test"


def test_name_resolved_by_the_host_resolver_and_allowed_by_cidr():
    # up.test resolves (upstream DNS) to 127.0.0.1, which a CIDR entry allows on port 80.
    s = scenario(curl("--noproxy", "*", "http://up.test/c"))
    assert s.code == 0 and s.stdout == "ok up.test /c\n", s
    assert s.connections[0]["address"] == "127.0.0.1"
    # On 443 no CIDR entry allows 127.0.0.1: a loopback answer is refused.
    refused = scenario(curl("--noproxy", "*", "https://up.test/c"))
    assert refused.code != 0
    only_denial(refused, what="resolve", name="up.test", address="127.0.0.1", port=443,
                reason="private_address")
    assert refused.accepts.get("https", 0) == 0


def test_server_first_protocol_on_an_allowed_port():
    code = ("import socket; s = socket.create_connection(('allowed.test', 2525)); "
            "print(s.recv(100).decode().strip()); s.sendall(b'QUIT\\r\\n'); print(s.recv(100).decode().strip())")
    s = scenario(py(code))
    assert s.code == 0 and s.stdout == "220 hello\nQUIT\n", s
    assert s.accepts.get("banner:2525") == 1


def test_dns_over_tcp_and_to_any_address():
    code = r"""
import socket, struct
q = b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07allowed\x04test\x00\x00\x01\x00\x01'
s = socket.create_connection(('192.0.2.53', 53))
s.sendall(struct.pack('!H', len(q)) + q)
n = struct.unpack('!H', s.recv(2))[0]
a = s.recv(n)
print(a[3] & 15, socket.inet_ntoa(a[-4:]))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect(('8.8.8.8', 53)); u.send(q); a = u.recv(512)
print(a[3] & 15, socket.inet_ntoa(a[-4:]))
"""
    s = scenario(py(code))
    assert s.code == 0, s
    assert s.stdout == "0 198.18.0.1\n0 198.18.0.1\n", s
    assert s.accepts.get("upstream_dns", 0) == 0, s  # a resolve entry: the host is not asked


# ---- every refusal: at once, recorded once, nothing reached -----------------------------------

def test_name_not_allowed():
    s = scenario(curl("--noproxy", "*", "http://evil.test/"))
    assert s.code == 6, s  # curl: could not resolve host
    only_denial(s, what="dns", name="evil.test", address=None, port=None, reason="not_allowed")
    assert "agentjail: network: refused DNS query for evil.test" in s.stderr
    assert s.accepts.get("upstream_dns", 0) == 0, s  # nothing forwarded


def test_ip_literal():
    s = scenario(curl("--noproxy", "*", "http://10.0.0.1/"))
    assert s.code in (7, 52, 56), s  # refused / reset
    only_denial(s, what="tcp", name=None, address="10.0.0.1", port=80, reason="ip_literal")
    assert s.accepts.get("10.0.0.1:80", 0) == 0, s


def test_ip_literal_through_the_proxy_gets_403():
    s = scenario(curl("-x", "http://127.0.0.1:3128", "-o", "/dev/null", "-w", "%{http_code}", "http://10.0.0.1/"))
    assert s.stdout == "403", s
    only_denial(s, what="http", address="10.0.0.1", port=80, reason="ip_literal")
    assert s.accepts.get("10.0.0.1:80", 0) == 0, s


def test_tls_with_another_server_name():
    code = ("import socket, ssl; ctx = ssl.create_default_context(cafile='{ca}'); "
            "raw = socket.create_connection(('allowed.test', 443)); "
            "ctx.wrap_socket(raw, server_hostname='other.test')")
    s = scenario(py(code))
    assert s.code != 0 and "ConnectionResetError" in s.stderr, s
    only_denial(s, what="tls", name="allowed.test", port=443, reason="sni_mismatch")
    assert s.accepts.get("https", 0) == 0, s


def test_sni_mismatch_inside_a_proxy_tunnel():
    s = scenario(curl("-x", "http://127.0.0.1:3128", "--connect-to", "other.test:443:allowed.test:443",
                      "https://other.test/"))
    assert s.code != 0, s
    only_denial(s, what="tls", name="allowed.test", port=443, reason="sni_mismatch")
    assert s.accepts.get("https", 0) == 0, s


def test_host_header_mismatch():
    s = scenario(curl("--noproxy", "*", "-H", "Host: other.test", "http://allowed.test/"))
    assert s.code != 0, s
    only_denial(s, what="http", name="allowed.test", port=80, reason="host_mismatch")
    assert s.accepts.get("http", 0) == 0, s


def test_a_hostile_host_header_is_refused_in_one_short_line():
    # The refusal quotes the jail's bytes: cut to a readable line, never 8 KiB of them.
    s = scenario(curl("--noproxy", "*", "-H", "Host: " + "a" * 8000 + ".test", "http://allowed.test/"))
    assert s.code != 0, s
    only_denial(s, what="http", name="allowed.test", port=80, reason="host_mismatch")
    lines = [line for line in s.stderr.splitlines() if line.startswith("agentjail:")]
    assert len(lines) == 1 and len(lines[0]) < 600, s
    assert s.accepts.get("http", 0) == 0, s


def test_txt_query_to_a_public_resolver():
    code = r"""
import socket
def ask(name, qtype):
    q = b'\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00'
    for label in name.split('.'):
        q += bytes([len(label)]) + label.encode()
    q += b'\x00' + qtype.to_bytes(2, 'big') + b'\x00\x01'
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect(('8.8.8.8', 53)); u.send(q); a = u.recv(512)
    return a[3] & 15, int.from_bytes(a[6:8], 'big')
print(ask('allowed.test', 16), ask('evil.test', 16))
"""
    s = scenario(py(code))
    assert s.code == 0 and s.stdout == "(0, 0) (3, 0)\n", s  # no data / NXDOMAIN
    assert sorted((d["name"], d["what"], d["reason"]) for d in s.denied) == [
        ("allowed.test", "dns", "not_allowed"), ("evil.test", "dns", "not_allowed")], s
    assert s.accepts.get("upstream_dns", 0) == 0, s


@pytest.mark.parametrize("name,address", [("rebind.test", "10.0.0.1"), ("meta.test", "169.254.169.254")])
def test_name_resolving_to_a_private_address(name, address):
    s = scenario(curl("--noproxy", "*", f"http://{name}/"))
    assert s.code == 6, s  # refused at DNS time already: NXDOMAIN
    only_denial(s, what="resolve", name=name, address=address, reason="private_address")
    assert s.accepts.get(f"{address}:80", 0) == 0, s
    proxied = scenario(curl("-x", "http://127.0.0.1:3128", f"http://{name}/"))
    # The proxy answers 403 with the reason as its body (curl without -f exits 0 on it).
    assert proxied.code == 0 and proxied.stdout.startswith("agentjail: network: refused"), proxied
    assert "not public" in proxied.stdout and address in proxied.stdout, proxied
    only_denial(proxied, what="resolve", name=name, address=address, port=80, reason="private_address")
    assert proxied.accepts.get(f"{address}:80", 0) == 0, proxied


def test_port_not_allowed_and_closed_ports():
    code = r"""
import errno, socket
for port in (8443, 9999):
    try:
        s = socket.create_connection(('allowed.test', port), timeout=5)
        s.sendall(b'x'); print(port, s.recv(1))
    except OSError as e:
        print(port, errno.errorcode[e.errno])
"""
    s = scenario(py(code))
    assert s.stdout in ("8443 ECONNRESET\n9999 ECONNREFUSED\n",), s
    # 8443 has a listener (other.test:8443 is allowed) and is refused and recorded; 9999 has
    # none: the kernel refuses it, and nothing is recorded.
    only_denial(s, what="tcp", name="allowed.test", port=8443, reason="port_not_allowed")


def test_udp_to_other_ports_is_refused():
    code = r"""
import errno, socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
u.connect(('8.8.8.8', 443)); u.send(b'quic?')
try:
    u.recv(10)
except OSError as e:
    print(errno.errorcode[e.errno])
"""
    s = scenario(py(code))
    assert s.stdout == "ECONNREFUSED\n", s


def test_byte_cap():
    code = r"""
import socket, time
s = socket.create_connection(('allowed.test', 8080))
try:
    for _ in range(50):
        s.sendall(b'x' * 1000); time.sleep(0.01)
    print('sent all')
except OSError as e:
    print(type(e).__name__)
"""
    s = scenario(py(code), config={"max_bytes": 4000})
    assert s.stdout in ("ConnectionResetError\n", "BrokenPipeError\n"), s
    only_denial(s, what="tcp", name="allowed.test", port=8080, reason="byte_cap")
    assert s.received.get("raw:8080", 0) <= 4000, s
    assert s.connections[0]["bytes_out"] <= 4000, s


def test_connection_cap():
    s = scenario(["sh", "-c", "for i in 1 2 3; do curl -sS --max-time 10 http://allowed.test/$i; done"],
                 config={"max_connections": 2})
    assert s.stdout == "ok allowed.test /1\nok allowed.test /2\n", s
    only_denial(s, what="tcp", name="allowed.test", port=80, reason="connection_cap")
    assert s.accepts.get("http") == 2, s
    assert s.report["connections_total"] == 2


def test_repeats_fold_into_one_entry():
    s = scenario(["sh", "-c", "for i in 1 2 3; do curl -sS --max-time 10 http://10.0.0.1/; done; true"])
    entry = only_denial(s, what="tcp", address="10.0.0.1", reason="ip_literal")
    assert entry["count"] == 3 and s.report["denied_total"] == 3, s
    assert s.stderr.count("agentjail: network: refused") == 1, s  # said once


def test_as_an_ordinary_user():
    if not is_root():
        pytest.skip("already unprivileged: every test here ran so")
    s = scenario(["sh", "-c", "curl -sS --max-time 10 http://allowed.test/u; curl -sS --max-time 10 http://10.0.0.1/"],
                 user=NOBODY)
    assert s.stdout.startswith("ok allowed.test /u\n"), s
    only_denial(s, what="tcp", address="10.0.0.1", reason="ip_literal")
    assert s.accepts.get("10.0.0.1:80", 0) == 0
