#!/usr/bin/python3
"""Request->report latency and throughput of `agentjail serve` against what a client would
otherwise do, all measured in one run from the same client, interleaved round by round
(bench/README.md):

  pool       POST /v1/runs {"command": [...]} to a server with --pool default=8, a warm jail
             ready (the client waits for one before each timed request, untimed)
  serve      the same request to a server without a pool: the jail is built for the request
  fork+exec  the client's own subprocess.run([...])
  run        a cold `agentjail run --json -- ...` from the client

for /bin/true (all four) and `python3 -c pass` (pool and fork+exec); then sustained throughput
of 2 clients each sending requests back to back through the pool, against `xargs -P2` of
bubblewrap with agentjail's filter (the bwrap+filter of bench/run.sh); then the pooled server's
memory: its own RSS, and the PSS of it and every process it started (workers, jails).

Usage: bench/serve.py [--smoke] [BUILD_DIR]. Prints medians and ratios; asserts nothing.
"""
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def request(sock, method, path, body=None):
    connection = UnixHTTPConnection(sock)
    connection.request(method, path, body=body)
    data = connection.getresponse().read()
    connection.close()
    return data


def ready(sock):
    return json.loads(request(sock, "GET", "/v1/health"))["pools"].get("default", {}).get("ready", 0)


def start_server(binary, sock, *options):
    server = subprocess.Popen([binary, "serve", "--socket", sock, "-p", "default", *options],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(server.stderr.read().decode())
        time.sleep(0.01)
    return server


def memory_kib(pid):
    """(RSS of pid, PSS of pid and all its descendants) in KiB."""
    def field(path, name):
        try:
            with open(path) as f:
                return next((int(line.split()[1]) for line in f if line.startswith(name)), 0)
        except OSError:
            return 0

    def tree(p):
        kids = subprocess.run(["pgrep", "-P", str(p)], capture_output=True, text=True).stdout.split()
        return [p] + [q for k in kids for q in tree(int(k))]

    return field(f"/proc/{pid}/status", "VmRSS:"), sum(field(f"/proc/{p}/smaps_rollup", "Pss:") for p in tree(pid))


def bwrap_command(work, binary):
    """bench/run.sh's bwrap+filter: the default policy's isolation and its filter on fd 9."""
    if not shutil.which("bwrap"):
        return None
    with open(os.path.join(work, "filter.bpf"), "wb") as f:
        subprocess.run([binary, "seccomp", "-p", "default", "--format", "bpf", "--no-notify"], stdout=f, check=True)
    for name, text in (("passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n"),
                       ("group", "root:x:0:\nnogroup:x:65534:\n"), ("hosts", "127.0.0.1 localhost\n::1 localhost\n")):
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    return ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "agentjail",
            "--uid", "65534", "--gid", "65534", "--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
            "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8", "--chdir", "/tmp",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
            "--ro-bind", f"{work}/passwd", "/etc/passwd", "--ro-bind", f"{work}/group", "/etc/group",
            "--ro-bind", f"{work}/hosts", "/etc/hosts", "--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/tmp",
            "--proc", "/proc", "--dev", "/dev", "--seccomp", "9"]


def main():
    args = [a for a in sys.argv[1:] if a != "--smoke"]
    smoke = "--smoke" in sys.argv[1:]
    build = args[0] if args else "build"
    work = tempfile.mkdtemp(prefix="aj-bench-serve-")
    os.chmod(work, 0o755)
    binary = os.path.join(work, "agentjail")
    shutil.copy(os.path.join(build, "agentjail"), binary)  # one binary for the whole run
    pool_sock, cold_sock = os.path.join(work, "pool.sock"), os.path.join(work, "cold.sock")
    servers = []
    try:
        servers.append(start_server(binary, pool_sock, "--pool", "default=8", "--max-jails", "4"))
        servers.append(start_server(binary, cold_sock, "--max-jails", "2"))
        pool_server = servers[0]
        deadline = time.monotonic() + 60
        while ready(pool_sock) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)

        def post(sock, command):
            report = json.loads(request(sock, "POST", "/v1/runs", json.dumps({"command": command})))
            if report.get("status") != "ok":
                raise SystemExit(f"serve: {report}")

        def wait_warm():
            while ready(pool_sock) < 1:
                time.sleep(0.001)

        true, python = ["/bin/true"], ["/usr/bin/python3", "-c", "pass"]
        variants = {
            "pool": (wait_warm, lambda: post(pool_sock, true)),
            "serve": (None, lambda: post(cold_sock, true)),
            "fork+exec": (None, lambda: subprocess.run(true, check=True)),
            "run": (None, lambda: subprocess.run([binary, "run", "--json", "--", *true], check=True,
                                                 stdout=subprocess.DEVNULL)),
            "pool python3 -c pass": (wait_warm, lambda: post(pool_sock, python)),
            "fork+exec python3 -c pass": (None, lambda: subprocess.run(python, check=True)),
        }
        rounds, per_round = (2, 3) if smoke else (20, 10)
        times = {name: [] for name in variants}
        for before, fn in variants.values():
            fn()  # warm up: page cache, the servers' first forks
        names = list(variants)
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                before, fn = variants[name]
                for _ in range(per_round):
                    if before:
                        before()
                    started = time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - started) * 1000)
        median = {name: statistics.median(t) for name, t in times.items()}
        print(f"# serve: request->report latency, medians of {rounds * per_round} runs each")
        print("| variant | median ms |")
        print("|---|---|")
        for name in names:
            print(f"| {name} | {median[name]:.3f} |")
        print(f"| pool / fork+exec (/bin/true) | {median['pool'] / median['fork+exec']:.2f}x (target <= 1.5x) |")
        print(f"| pool / run (/bin/true) | {median['pool'] / median['run']:.2f}x (target <= 0.35x) |")
        print(f"| pool / fork+exec (python3 -c pass) | "
              f"{median['pool python3 -c pass'] / median['fork+exec python3 -c pass']:.2f}x (target <= 1.1x) |")

        # Sustained throughput: 2 clients back to back through the pool vs xargs -P2 of bwrap+filter.
        jobs = 20 if smoke else 200
        while ready(pool_sock) < 8:
            time.sleep(0.05)
        counter = iter(range(jobs))
        lock = threading.Lock()

        def client():
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                post(pool_sock, true)

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pool_rate = jobs / (time.perf_counter() - started)
        print()
        print(f"# throughput: {jobs} runs of /bin/true, 2 clients at once")
        print("| variant | runs/s |")
        print("|---|---|")
        print(f"| pool (2 clients) | {pool_rate:.1f} |")
        bwrap = bwrap_command(work, binary)
        fd9 = os.path.join(work, "fd9")
        if bwrap and subprocess.run(["cc", "-O2", "-static", "-o", fd9, os.path.join(os.path.dirname(__file__), "fd9.c")]).returncode != 0:
            bwrap = None
        if bwrap:
            # Each bwrap reads its filter from its own fd 9 (bench/fd9.c, as bench/run.sh does).
            started = time.perf_counter()
            subprocess.run(["xargs", "-P2", "-I{}", fd9, os.path.join(work, "filter.bpf"), *bwrap, "/bin/true"],
                           input="\n".join(map(str, range(jobs))), text=True, check=True)
            bwrap_rate = jobs / (time.perf_counter() - started)
            print(f"| bwrap+filter (xargs -P2) | {bwrap_rate:.1f} |")
            print(f"| pool / bwrap+filter | {pool_rate / bwrap_rate:.2f}x (target >= 1.5x) |")
        else:
            print("| bwrap+filter | not measured: no bwrap or no cc for bench/fd9.c |")

        while ready(pool_sock) < 8:
            time.sleep(0.05)
        rss, pss = memory_kib(pool_server.pid)
        print()
        print(f"| pooled server RSS (--pool default=8, 8 ready) | {rss} KiB |")
        print(f"| PSS of the server, its 8 workers and their jails | {pss} KiB |")
        return 0
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
