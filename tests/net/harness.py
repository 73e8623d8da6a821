"""One broker scenario in a network namespace of its own (run under `unshare -rn`, or `unshare -n`
as root): test servers on addresses of that namespace's lo, tests/net/broker_driver with the
scenario's config, a client command in the driver's jail-like namespace. Nothing here can send
a packet off the machine: the namespace has no device but lo, and every address the scenario
names (10.0.0.1, 169.254.169.254, 8.8.8.8) exists only on that lo or nowhere.

    harness.py DRIVER SPEC.json OUT.json

SPEC: {"config": {net::Config fields}, "command": [argv], "env": {...}}; names in the config
and command may use {ca} (the test CA's PEM file). The upstream DNS server on 127.0.0.1:53
answers rebind.test -> 10.0.0.1, meta.test -> 169.254.169.254, up.test -> 127.0.0.1 and
NXDOMAIN otherwise. OUT: the driver's exit code, output and report, and how many connections
(and bytes) each server accepted, and how many queries the upstream DNS saw.

With "agentjail": PATH in SPEC (tests/integration/test_egress.py), the client runs in a real
jail instead: `agentjail run` with a policy whose [network] table is SPEC's "config", the CA
bound at /etc/test-ca.pem, SPEC's "limits", "options" and "env" (as --env), behind SPEC's "prefix" (the
setpriv that makes it an ordinary user). Its run needs a mount namespace too (`unshare -nm`):
this namespace's DNS server becomes the broker's upstream by a bind over /etc/resolv.conf. OUT
also lists the processes left in the namespace after the run ("left_running").
"""
import atexit
import http.server
import json
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading

DRIVER, SPEC, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
accepts = {}
received = {}
lock = threading.Lock()


def count(key, nbytes=0):
    with lock:
        accepts[key] = accepts.get(key, 0) + (0 if nbytes else 1)
        received[key] = received.get(key, 0) + nbytes


def sh(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Refuse to run anywhere a packet could leave: a namespace with lo alone, made by the caller.
if [name for _, name in socket.if_nameindex()] != ["lo"]:
    sys.exit(f"harness.py: not in a network namespace with only lo: {socket.if_nameindex()}")
sh("ip", "link", "set", "lo", "up")
for address in ("10.0.0.1/32", "169.254.169.254/32"):
    sh("ip", "addr", "add", address, "dev", "lo")

tmp = tempfile.mkdtemp(prefix="aj-net-")
# The CA's key, the config, the report: gone however this script ends.
atexit.register(shutil.rmtree, tmp, True)
ca_key, ca_pem = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.pem")
key, csr, pem, ext = (os.path.join(tmp, n) for n in ("srv.key", "srv.csr", "srv.pem", "ext.cnf"))
with open(ext, "w") as f:
    f.write("subjectAltName=DNS:allowed.test,DNS:other.test,DNS:up.test\n")
sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
   "-keyout", ca_key, "-out", ca_pem, "-subj", "/CN=agentjail test CA", "-days", "1")
sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
   "-out", csr, "-subj", "/CN=allowed.test")
sh("openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-out", pem,
   "-days", "1", "-extfile", ext)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"ok {self.headers.get('Host')} {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, key, tls=None):
        self.key = key
        self.tls = tls
        super().__init__(address, Handler)

    def get_request(self):
        conn, peer = super().get_request()
        count(self.key)
        if self.tls:
            conn = self.tls.wrap_socket(conn, server_side=True)
        return conn, peer


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(pem, key)
serve(Server(("127.0.0.1", 80), "http"))
serve(Server(("127.0.0.1", 443), "https", tls))
for address in ("10.0.0.1", "169.254.169.254"):
    serve(Server((address, 80), f"{address}:80"))
    serve(Server((address, 443), f"{address}:443"))


def raw_server(port, key, banner=None):
    """Counts connections and bytes; echoes nothing; sends `banner` first (a server-first protocol)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)

    def one(conn):
        with conn:
            if banner:
                conn.sendall(banner)
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                count(key, len(data))
                if banner:
                    conn.sendall(data)

    def loop():
        while True:
            conn, _ = s.accept()
            count(key)
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


raw_server(8080, "raw:8080")
raw_server(2525, "banner:2525", banner=b"220 hello\r\n")

upstream = {"rebind.test": "10.0.0.1", "meta.test": "169.254.169.254", "up.test": "127.0.0.1"}


def dns_server():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 53))
    while True:
        query, peer = s.recvfrom(2048)
        count("upstream_dns")
        if len(query) < 12:
            continue
        at, labels = 12, []
        while at < len(query) and query[at]:
            labels.append(query[at + 1:at + 1 + query[at]].decode("ascii", "replace"))
            at += 1 + query[at]
        qtype = int.from_bytes(query[at + 1:at + 3], "big")
        question = query[12:at + 5]
        name = ".".join(labels).lower()
        address = upstream.get(name)
        header = bytearray(query[:2]) + bytes([0x81, 0x80 if address else 0x83]) + b"\x00\x01"
        if address and qtype == 1:
            answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + socket.inet_aton(address)
            s.sendto(bytes(header) + b"\x00\x01\x00\x00\x00\x00" + question + answer, peer)
        else:
            s.sendto(bytes(header) + b"\x00\x00\x00\x00\x00\x00" + question, peer)


threading.Thread(target=dns_server, daemon=True).start()

def toml_value(value):
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)  # strings, numbers and lists of strings are the same in TOML


def agentjail_argv(spec, resolv, report_path):
    """`agentjail run` with the spec's policy, in this namespace: the broker's upstream resolver
    is this namespace's DNS server (its /etc/resolv.conf is bound over the host's, in a mount
    namespace of its own), and the test CA is bound into the jail at /etc/test-ca.pem."""
    try:
        shared = os.readlink("/proc/self/ns/mnt") == os.readlink("/proc/1/ns/mnt")
    except OSError:
        shared = False  # not root: pid 1's is out of reach, and so is any mount of the host's
    if shared:
        sys.exit("harness.py: not in a mount namespace of its own (unshare -m): /etc/resolv.conf is the host's")
    subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)
    for path in (tmp, ca_pem):  # the jail's user (and an ordinary caller) reads the CA
        os.chmod(path, 0o755 if path == tmp else 0o644)
    policy = os.path.join(tmp, "policy.toml")
    with open(policy, "w") as f:
        limits = {"wall_time": "60s", "memory": "512MiB", **spec.get("limits", {})}
        f.write('version = 1\nextends = "default"\n[limits]\n' + "".join(f"{k} = {toml_value(v)}\n" for k, v in limits.items()))
        f.write("[network]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in spec["config"].items()))
    os.chmod(policy, 0o644)
    reports = os.path.dirname(report_path)  # where the caller, maybe an ordinary user, may write
    os.mkdir(reports)
    os.chmod(reports, 0o777)
    argv = [spec["agentjail"], "run", "-p", policy, "--report", report_path,
            "--ro", f"{ca_pem}:/etc/test-ca.pem", *spec.get("options", [])]
    argv += [f"--env={k}={v}" for k, v in spec.get("env", {}).items()]
    argv += ["--", *spec["command"]]
    # Without the capabilities this script holds over its namespaces (an ordinary user's run
    # made them with `unshare --keep-caps`), or as the user the spec names.
    return spec.get("prefix", []) + argv


def left_running():
    """Processes in this network namespace other than this script: after the run, none may be."""
    mine = os.readlink("/proc/self/ns/net")
    others = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                if os.readlink(f"/proc/{pid}/ns/net") == mine:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        others.append(f"{pid}: " + f.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return others


with open(SPEC) as f:
    spec = json.loads(f.read().replace("{ca}", ca_pem))
env = dict(os.environ)
for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
             "NO_PROXY"):
    env.pop(name, None)
resolv = os.path.join(tmp, "resolv.conf")
with open(resolv, "w") as f:
    f.write("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
report_path = os.path.join(tmp, "report.json")
if spec.get("agentjail"):
    report_path = os.path.join(tmp, "reports", "report.json")
    argv = agentjail_argv(spec, resolv, report_path)
else:
    config = dict(spec["config"])
    config.setdefault("upstream_servers", ["127.0.0.1"])
    config_path = os.path.join(tmp, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    env.update(spec.get("env", {}))
    argv = [DRIVER, "--config", config_path, "--report", report_path, "--resolv-conf", resolv]
    argv += spec.get("driver_options", [])
    argv += ["--", *spec["command"]]
proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", env=env, timeout=120)
report = None
if os.path.exists(report_path):
    with open(report_path) as f:
        report = json.load(f)
        if spec.get("agentjail"):
            report = {"run": report, **(report.get("network") or {})}
with lock:
    result = {"code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "report": report,
              "accepts": dict(accepts), "received": dict(received), "left_running": left_running()}
with open(OUT, "w") as f:
    json.dump(result, f)
