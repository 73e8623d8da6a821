"""Shared fixtures for the integration tests: they drive the real agentjail binary.

Environment (set by ctest): AGENTJAIL (the binary), AGENTJAIL_PROBES (directory of the
static probe programs from tests/probe), AGENTJAIL_SOURCE_DIR (the repository).
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

AGENTJAIL = os.environ.get("AGENTJAIL", os.path.join(os.getcwd(), "build", "agentjail"))
PROBES = os.environ.get("AGENTJAIL_PROBES", os.path.join(os.path.dirname(AGENTJAIL), "probe"))
SOURCE_DIR = os.environ.get("AGENTJAIL_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NOBODY = 65534


def is_root():
    return os.geteuid() == 0


def as_user_prefix(uid=NOBODY, gid=NOBODY):
    """argv prefix that runs the rest as an ordinary user with no capabilities."""
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all"]


class Result:
    def __init__(self, proc, report=None):
        self.proc = proc
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.report = report

    def __repr__(self):
        return f"<exit {self.code} stdout={self.stdout[-2000:]!r} stderr={self.stderr[-2000:]!r}>"


def run(*args, policy=None, json_mode=False, options=(), user=None, timeout=120, input=None, env=None,
        report=True):
    """agentjail run [--policy P] [options] -- args; returns Result with .report parsed.

    json_mode: use --json (capture); otherwise pass-through with --report to a temp file.
    user: None (the test's own user) or a uid to run agentjail as via setpriv.
    """
    argv = [AGENTJAIL, "run"]
    if policy:
        argv += ["--policy", policy]
    argv += list(options)
    tmpdir = None
    report_path = None
    if json_mode:
        argv.append("--json")
    elif report:
        tmpdir = tempfile.mkdtemp(prefix="aj-report-")
        os.chmod(tmpdir, 0o777)
        report_path = os.path.join(tmpdir, "report.json")
        argv += ["--report", report_path]
    argv.append("--")
    argv += list(args)
    if user is not None:
        argv = as_user_prefix(user, user) + argv
    proc = subprocess.run(argv, capture_output=True, timeout=timeout, input=input, env=env,
                          text=isinstance(input, str) or input is None, errors="replace")
    parsed = None
    try:
        if json_mode:
            parsed = json.loads(proc.stdout) if proc.stdout.strip() else None
        elif report_path and os.path.exists(report_path):
            with open(report_path) as f:
                parsed = json.load(f)
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return Result(proc, parsed)


def assert_ran(r, marker, code=0, status="ok"):
    """The positive control of a test that asserts only that an attack left no trace: the
    command went on past the attack and printed `marker`, exited `code`, and the report says
    `status`. Without it such a test passes when the jail never started at all."""
    assert marker in r.stdout, r
    assert r.code == code, r
    assert r.report is not None and r.report["status"] == status, (r.report, r)


def probe(name):
    path = os.path.join(PROBES, name)
    if not os.path.exists(path):
        pytest.fail(f"probe {name} was not built at {path} (build target 'probes')")
    return path


def probe_options(*names):
    """--ro options that bind each named probe at /probe/NAME inside the jail."""
    opts = []
    for name in names:
        opts += ["--ro", f"{probe(name)}:/probe/{name}"]
    return opts


@pytest.fixture
def workdir():
    """A host directory everyone may write, removed afterwards (for --rw binds)."""
    path = tempfile.mkdtemp(prefix="aj-work-")
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def userns_works():
    return subprocess.run(["unshare", "-U", "true"], capture_output=True).returncode == 0


requires_root = pytest.mark.skipif(not is_root(), reason="needs root to test the root path")
requires_userns = pytest.mark.skipif(not userns_works(), reason="user namespaces are not available here")
# scripts/test.sh --sanitize: the ASan runtime makes every agentjail process (the jail's init
# too) tens of MiB bigger, so tests of agentjail's own memory, or of which process a 64 MiB
# cgroup's OOM killer picks, measure the sanitizer rather than the product.
SANITIZED = os.environ.get("AGENTJAIL_SANITIZED") == "1"
measures_own_memory = pytest.mark.skipif(SANITIZED, reason="sanitizer build: its runtime's memory is not ours")
