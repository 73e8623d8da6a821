"""network.mode = "allowlist" through `agentjail run`: real jails, real clients (curl, Python's
urllib, Node's fetch), test servers on loopback. tests/net/harness.py runs each scenario in a
network namespace with only lo, made here with `unshare -n` (root) or `unshare -U -n
--keep-caps` (an ordinary user): the servers, agentjail and its broker all live in it, so every
address named here (10.0.0.1, 169.254.169.254, 8.8.8.8) exists only on that lo or nowhere, and
even a broken build cannot send a packet off the machine.

The harness's DNS server, the broker's upstream, answers rebind.test -> 10.0.0.1 and
meta.test -> 169.254.169.254; allowed.test is pinned to 127.0.0.1 by network.resolve. Each
refusal is checked three ways: the client fails at once, the report has exactly the one
`denied` entry with its reason, and the server it would have reached accepted nothing. Every
scenario also checks that nothing is left running in the namespace after the run.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import AGENTJAIL, NOBODY, SOURCE_DIR, agentjail_for, as_other_user, as_user_prefix, is_root, staged_file

HARNESS = os.path.join(SOURCE_DIR, "tests", "net", "harness.py")
PYTHON = "/usr/bin/python3"
CA = "/etc/test-ca.pem"  # where the harness binds the test CA in the jail
USERS = [None, NOBODY]   # the tests' own user, and (run by root) an ordinary one
try:
    import jsonschema
    with open(os.path.join(SOURCE_DIR, "schemas", "report.schema.json")) as f:
        REPORT_SCHEMA = jsonschema.Draft202012Validator(json.load(f))
except ImportError:  # test_schemas.py says so; here the reports are still checked field by field
    REPORT_SCHEMA = None

BASE = {"mode": "allowlist",
        "allow": ["allowed.test", "allowed.test:8080", "rebind.test", "meta.test"],
        "resolve": {"allowed.test": "127.0.0.1"}}
NO_PROXY_VARS = ["env", "-u", "http_proxy", "-u", "https_proxy", "-u", "HTTP_PROXY", "-u", "HTTPS_PROXY"]


def unusable():
    for tool in ("unshare", "ip", "openssl", "setpriv", "mount"):
        if not shutil.which(tool):
            return f"needs {tool}"
    probe = subprocess.run(namespace_argv() + ["true"], capture_output=True)
    if probe.returncode != 0:
        return "cannot create the test's network namespace here: " + probe.stderr.decode(errors="replace")
    return None


def namespace_argv():
    if is_root():
        return ["unshare", "-n", "-m"]
    # An ordinary user's own user namespace owns the network and mount namespaces; the
    # harness keeps its capabilities there (ambient) and drops them for agentjail.
    return ["unshare", "-U", "--map-current-user", "--keep-caps", "-n", "-m"]


pytestmark = pytest.mark.skipif(unusable() is not None, reason=unusable() or "")


class Scenario:
    def __init__(self, out):
        self.code = out["code"]
        self.stdout = out["stdout"]
        self.stderr = out["stderr"]
        self.report = out["report"] or {}
        self.accepts = out["accepts"]
        self.received = out["received"]
        self.left_running = out["left_running"]

    @property
    def denied(self):
        return self.report["denied"]

    @property
    def connections(self):
        return self.report["connections"]

    def __repr__(self):
        return (f"<exit {self.code} stdout={self.stdout[-1500:]!r} stderr={self.stderr[-1500:]!r} "
                f"accepts={self.accepts} report={json.dumps(self.report)[-3000:]}>")


def scenario(command, config=None, env=None, user=None, options=(), limits=None):
    if user is not None and not as_other_user(user):
        pytest.skip("already unprivileged: the run as the tests' own user is this one")
    prefix = as_user_prefix(user, user) if user is not None else []
    if not is_root():
        prefix = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all"]
    spec = {"config": {**BASE, **(config or {})}, "command": command, "env": env or {}, "options": list(options),
            "limits": limits or {}, "agentjail": agentjail_for(user), "prefix": prefix}
    tmp = tempfile.mkdtemp(prefix="aj-egress-test-")
    try:
        spec_path, out_path = os.path.join(tmp, "spec.json"), os.path.join(tmp, "out.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        harness = staged_file(HARNESS) if as_other_user(user) and is_root() else HARNESS
        proc = subprocess.run(namespace_argv() + [PYTHON, harness, "-", spec_path, out_path], capture_output=True,
                              text=True, timeout=180)
        assert proc.returncode == 0 and os.path.exists(out_path), proc.stderr[-3000:]
        with open(out_path) as f:
            s = Scenario(json.load(f))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert s.left_running == [], s.left_running
    assert s.report.get("mode") == "allowlist", s
    if REPORT_SCHEMA:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in REPORT_SCHEMA.iter_errors(s.report["run"])]
        assert not errors, errors
    return s


def needs(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed (the jail sees the host's /usr)")


def curl(*args):
    needs("curl")
    return ["curl", "-sS", "--max-time", "10", "--cacert", CA, *args]


def py(code):
    return [PYTHON, "-c", code]


def only_denial(s, **expected):
    assert len(s.denied) == 1, s
    entry = s.denied[0]
    for key, value in expected.items():
        assert entry[key] == value, (key, s)
    assert s.report["denied_total"] == entry["count"], s
    # Pass-through mode: said once, on stderr, as an agentjail: line.
    assert s.stderr.count("agentjail: network: refused") == 1, s
    return entry


# ---- what is allowed gets through -------------------------------------------------------------

@pytest.mark.parametrize("user", USERS)
def test_curl_reaches_an_allowed_name_over_http_and_https(user):
    s = scenario(["sh", "-c", f"curl -sS --noproxy '*' --max-time 10 http://allowed.test/a && "
                              f"curl -sS --noproxy '*' --max-time 10 --cacert {CA} https://allowed.test/b"], user=user)
    assert s.code == 0, s
    assert s.stdout == "ok allowed.test /a\nok allowed.test /b\n", s
    assert s.denied == [] and s.report["denied_total"] == 0, s
    assert [(c["host"], c["port"], c["address"], c["via"]) for c in s.connections] == [
        ("allowed.test", 80, "127.0.0.1", "transparent"), ("allowed.test", 443, "127.0.0.1", "transparent")], s
    for c in s.connections:
        assert c["bytes_out"] > 0 and c["bytes_in"] > 0 and c["ms"] >= 0 and c["t_ms"] >= 0, s
    assert s.report["connections_total"] == 2
    assert s.accepts == {"http": 1, "https": 1}, s
    assert s.report["run"]["status"] == "ok", s


def test_the_proxy_variables_are_set_and_curl_uses_them():
    s = scenario(["sh", "-c", f"echo $HTTPS_PROXY $http_proxy; curl -sS --max-time 10 --cacert {CA} "
                              "https://allowed.test/p"])
    assert s.code == 0 and s.stdout == "http://127.0.0.1:3128 http://127.0.0.1:3128\nok allowed.test /p\n", s
    assert [c["via"] for c in s.connections] == ["proxy"], s


@pytest.mark.parametrize("user", USERS)
def test_python_urllib_with_and_without_proxy_variables(user):
    code = ("import ssl, urllib.request; ctx = ssl.create_default_context(cafile='" + CA + "'); "
            "print(urllib.request.urlopen('https://allowed.test/u', context=ctx).read().decode(), end='')")
    proxied = scenario(py(code), user=user)
    assert proxied.code == 0 and proxied.stdout == "ok allowed.test /u\n", proxied
    assert [c["via"] for c in proxied.connections] == ["proxy"], proxied
    plain = scenario(NO_PROXY_VARS + py(code), user=user)
    assert plain.code == 0 and plain.stdout == "ok allowed.test /u\n", plain
    assert [c["via"] for c in plain.connections] == ["transparent"], plain
    assert proxied.denied == [] and plain.denied == []


@pytest.mark.parametrize("user", USERS)
def test_node_fetch(user):
    needs("node")
    code = "fetch('https://allowed.test/n').then(r => r.text()).then(t => process.stdout.write(t))"
    # Without a cgroup (an ordinary user here) limits.memory is RLIMIT_AS, which V8's
    # address-space reservations exceed: no memory limit for this one.
    s = scenario(["node", "-e", code], env={"NODE_EXTRA_CA_CERTS": CA}, user=user, limits={"memory": "unlimited"})
    if "fetch is not defined" in s.stderr:
        pytest.skip("this node has no fetch")
    assert s.code == 0 and s.stdout == "ok allowed.test /n\n", s
    assert [(c["host"], c["via"]) for c in s.connections] == [("allowed.test", "transparent")], s


def test_the_jail_sees_the_hosts_ca_certificates_and_its_own_resolver():
    s = scenario(["sh", "-c", "cat /etc/resolv.conf; test -d /etc/ssl/certs && echo certs"])
    assert s.code == 0, s
    assert s.stdout.startswith("nameserver 127.0.0.1\n") and s.stdout.endswith("certs\n"), s


# ---- every refusal: at once, recorded once, nothing reached -----------------------------------

@pytest.mark.parametrize("user", USERS)
def test_name_not_allowed(user):
    s = scenario(curl("--noproxy", "*", "http://evil.test/"), user=user)
    assert s.code == 6, s  # curl: could not resolve host
    only_denial(s, what="dns", name="evil.test", address=None, port=None, reason="not_allowed")
    assert s.accepts.get("upstream_dns", 0) == 0, s  # nothing forwarded
    assert s.report["run"]["status"] == "exit" and s.report["run"]["exit_code"] == 6, s


@pytest.mark.parametrize("user", USERS)
def test_ip_literal(user):
    s = scenario(curl("--noproxy", "*", "http://10.0.0.1/"), user=user)
    assert s.code in (7, 52, 56), s  # refused / reset
    only_denial(s, what="tcp", name=None, address="10.0.0.1", port=80, reason="ip_literal")
    assert s.accepts.get("10.0.0.1:80", 0) == 0, s


def test_ip_literal_through_the_proxy_gets_403():
    s = scenario(curl("-o", "/dev/null", "-w", "%{http_code}", "http://10.0.0.1/"))
    assert s.stdout == "403", s
    only_denial(s, what="http", address="10.0.0.1", port=80, reason="ip_literal")
    assert s.accepts.get("10.0.0.1:80", 0) == 0, s


@pytest.mark.parametrize("user", USERS)
def test_tls_with_another_server_name(user):
    code = ("import socket, ssl; ctx = ssl.create_default_context(cafile='" + CA + "'); "
            "raw = socket.create_connection(('allowed.test', 443)); "
            "ctx.wrap_socket(raw, server_hostname='other.test')")
    s = scenario(py(code), user=user)
    assert s.code != 0 and "ConnectionResetError" in s.stderr, s
    only_denial(s, what="tls", name="allowed.test", port=443, reason="sni_mismatch")
    assert s.accepts.get("https", 0) == 0, s


@pytest.mark.parametrize("user", USERS)
def test_host_header_mismatch(user):
    s = scenario(curl("--noproxy", "*", "-H", "Host: other.test", "http://allowed.test/"), user=user)
    assert s.code != 0, s
    only_denial(s, what="http", name="allowed.test", port=80, reason="host_mismatch")
    assert s.accepts.get("http", 0) == 0, s


@pytest.mark.parametrize("user", USERS)
def test_txt_query_to_a_public_resolver(user):
    code = r"""
import socket
q = b'\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04evil\x04test\x00\x00\x10\x00\x01'
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)
u.connect(('8.8.8.8', 53)); u.send(q); a = u.recv(512)
print(a[3] & 15, int.from_bytes(a[6:8], 'big'))
"""
    s = scenario(py(code), user=user)
    assert s.code == 0 and s.stdout == "3 0\n", s  # NXDOMAIN, no answer
    only_denial(s, what="dns", name="evil.test", reason="not_allowed")
    assert s.accepts.get("upstream_dns", 0) == 0, s


@pytest.mark.parametrize("name,address", [("rebind.test", "10.0.0.1"), ("meta.test", "169.254.169.254")])
@pytest.mark.parametrize("user", USERS)
def test_name_resolving_to_a_private_address(name, address, user):
    s = scenario(curl("--noproxy", "*", f"http://{name}/"), user=user)
    assert s.code == 6, s  # refused at DNS time already: NXDOMAIN
    only_denial(s, what="resolve", name=name, address=address, reason="private_address")
    assert s.accepts.get(f"{address}:80", 0) == 0, s


def test_name_resolving_to_a_private_address_through_the_proxy():
    s = scenario(curl("http://meta.test/"))
    # The proxy answers 403 with the reason as its body (curl without -f exits 0 on it).
    assert s.code == 0 and s.stdout.startswith("agentjail: network: refused"), s
    assert "169.254.169.254" in s.stdout, s
    only_denial(s, what="resolve", name="meta.test", address="169.254.169.254", port=80, reason="private_address")
    assert s.accepts.get("169.254.169.254:80", 0) == 0, s


@pytest.mark.parametrize("user", USERS)
def test_byte_cap(user):
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
    s = scenario(py(code), config={"max_bytes": 4000}, user=user)
    assert s.stdout in ("ConnectionResetError\n", "BrokenPipeError\n"), s
    only_denial(s, what="tcp", name="allowed.test", port=8080, reason="byte_cap")
    assert s.received.get("raw:8080", 0) <= 4000, s
    assert s.connections[0]["bytes_out"] <= 4000, s


@pytest.mark.parametrize("user", USERS)
def test_connection_cap(user):
    s = scenario(["sh", "-c", "for i in 1 2 3; do curl -sS --noproxy '*' --max-time 10 http://allowed.test/$i; done"],
                 config={"max_connections": 2}, user=user)
    needs("curl")
    assert s.stdout == "ok allowed.test /1\nok allowed.test /2\n", s
    only_denial(s, what="tcp", name="allowed.test", port=80, reason="connection_cap")
    assert s.accepts.get("http") == 2, s
    assert s.report["connections_total"] == 2


def test_allow_on_the_command_line():
    # --net allowlist --allow: the policy's list grows by the option's entries.
    # The server closes when the client's side ends: a reply of b'' means it was reached.
    code = ("import socket; c = socket.create_connection(('allowed.test', 8080)); c.sendall(b'hi'); "
            "c.shutdown(socket.SHUT_WR); print('sent', c.recv(1))")
    refused = scenario(py(code), config={"allow": ["allowed.test"]})
    # No entry names port 8080, so the jail has no listener there: the kernel refuses at once
    # (nothing to record; a port some entry names is refused and recorded as port_not_allowed).
    assert refused.code == 1 and "ConnectionRefusedError" in refused.stderr and refused.denied == [], refused
    assert refused.accepts.get("raw:8080", 0) == 0, refused
    s = scenario(py(code), config={"allow": ["allowed.test"]}, options=["--allow", "allowed.test:8080"])
    assert s.code == 0 and s.stdout == "sent b''\n" and s.denied == [], s
    assert s.accepts.get("raw:8080") == 1 and s.connections[0]["port"] == 8080, s


@pytest.mark.parametrize("mode", ["rw", "overlay"])
@pytest.mark.parametrize("user", USERS)
def test_a_workspace_with_the_allowlist(mode, user):
    # The pip-into-the-checkout case: the allowlist's own mounts once shifted the workspace's
    # out of place and every run with both was a setup error.
    work = tempfile.mkdtemp(prefix="aj-egress-ws-")
    try:
        os.chmod(work, 0o755)
        if user is not None and is_root():
            os.chown(work, user, user)
        with open(os.path.join(work, "in.txt"), "w") as f:
            f.write("in\n")
        code = ("import urllib.request; body = urllib.request.urlopen('http://allowed.test/').read(); "
                "open('/work/out.txt', 'wb').write(body); print(open('/work/in.txt').read().strip())")
        s = scenario(py(code), user=user, options=["-w", f"{work}:/work:{mode}"])
        assert s.code == 0 and s.stdout == "in\n", s
        assert s.accepts.get("http") == 1 and s.denied == [], s
        assert os.path.exists(os.path.join(work, "out.txt")) == (mode == "rw"), s
        assert s.report["run"]["workspace"]["mode"] == mode, s
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_json_mode_reports_refusals_without_stderr_lines():
    s = scenario(curl("--noproxy", "*", "http://evil.test/"), options=["--json"])
    # --json: the report is on stdout (the harness reads its --report copy), stderr has no line.
    assert "agentjail: network: refused" not in s.stderr, s
    assert [d["reason"] for d in s.denied] == ["not_allowed"], s


def test_serve_refuses_to_pool_an_allowlist_policy(tmp_path):
    # A pooled jail is built before its run: an allowlist's broker and listeners are one run's.
    policy = tmp_path / "egress.toml"
    policy.write_text('version = 1\nextends = "default"\nname = "egress"\n[network]\nmode = "allowlist"\n'
                      'allow = ["pypi.org"]\n')
    proc = subprocess.run([AGENTJAIL, "serve", "--policy", str(policy), "--pool", "egress=1", "--socket",
                           str(tmp_path / "s.sock")], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 125, proc
    assert 'network.mode = "allowlist" cannot be pooled' in proc.stderr, proc
    assert not (tmp_path / "s.sock").exists()
