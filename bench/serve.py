#!/usr/bin/python3
"""Request->report latency of `agentjail serve` against what a client would otherwise do, all
measured in one run from the same client, interleaved round by round (bench/README.md):

  serve      POST /v1/runs {"command": ["/bin/true"]} on the unix socket, until the report is read
  fork+exec  the client's own subprocess.run(["/bin/true"])
  run        a cold `agentjail run --json -- /bin/true` from the client

Usage: bench/serve.py [--smoke] [BUILD_DIR]. Prints medians and ratios; asserts nothing.
Until the warm pool exists, serve's jails are built per request (in a forked worker, with
the policy parsed once), so the serve row is a cold in-process build.
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
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def main():
    args = [a for a in sys.argv[1:] if a != "--smoke"]
    smoke = "--smoke" in sys.argv[1:]
    build = args[0] if args else "build"
    work = tempfile.mkdtemp(prefix="aj-bench-serve-")
    binary = os.path.join(work, "agentjail")
    shutil.copy(os.path.join(build, "agentjail"), binary)  # one binary for the whole run
    sock = os.path.join(work, "serve.sock")
    server = subprocess.Popen([binary, "serve", "--socket", sock, "-p", "default", "--max-jails", "2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if server.poll() is not None or time.monotonic() > deadline:
                print(server.stderr.read().decode(), file=sys.stderr)
                return 1
            time.sleep(0.01)
        body = json.dumps({"command": ["/bin/true"]})

        def serve():
            connection = UnixHTTPConnection(sock)
            connection.request("POST", "/v1/runs", body=body)
            report = json.loads(connection.getresponse().read())
            connection.close()
            if report.get("status") != "ok":
                raise SystemExit(f"serve: {report}")

        def fork_exec():
            subprocess.run(["/bin/true"], check=True)

        def cold_run():
            subprocess.run([binary, "run", "--json", "--", "/bin/true"], check=True, stdout=subprocess.DEVNULL)

        variants = {"serve": serve, "fork+exec": fork_exec, "run": cold_run}
        rounds, per_round = (2, 3) if smoke else (20, 10)
        times = {name: [] for name in variants}
        for fn in variants.values():
            fn()  # warm up: page cache, the server's first fork
        names = list(variants)
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                for _ in range(per_round):
                    started = time.perf_counter()
                    variants[name]()
                    times[name].append((time.perf_counter() - started) * 1000)
        median = {name: statistics.median(t) for name, t in times.items()}
        print(f"# serve: request->report latency of /bin/true, medians of {rounds * per_round} runs each")
        print("| variant | median ms |")
        print("|---|---|")
        for name in names:
            print(f"| {name} | {median[name]:.3f} |")
        print(f"| serve / fork+exec | {median['serve'] / median['fork+exec']:.2f}x (target with a warm pool: <= 1.5x) |")
        print(f"| serve / run | {median['serve'] / median['run']:.2f}x (target with a warm pool: <= 0.35x) |")
        with open(f"/proc/{server.pid}/status") as f:
            rss = next(line.split()[1] for line in f if line.startswith("VmRSS:"))
        print(f"| server RSS | {rss} KiB |")
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
