"""Shared fixtures for the integration tests: they drive the real agentjail binary.

Environment (set by ctest): AGENTJAIL (the binary), AGENTJAIL_PROBES (directory of the
static probe programs from tests/probe), AGENTJAIL_SOURCE_DIR (the repository).

Runs as root or as an ordinary user. As root, the tests that run agentjail as another user
(setpriv) use copies of the binary and the probes staged in a directory every user can reach
(staged()): the repository may be cloned where only root can enter (a mktemp -d, /root/...).
"""
import atexit
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
    """argv prefix that runs the rest as an ordinary user with no capabilities: nothing when
    the tests already run as that user; the test skips when they run as another ordinary user."""
    if os.geteuid() == uid and os.getegid() == gid and not is_root():
        return []
    if not is_root():
        pytest.skip(f"needs root to run as uid {uid} (the tests run as uid {os.geteuid()})")
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all"]


_staged = None


def staged():
    """A directory under /tmp that every user can enter (0755), holding copies of agentjail and
    of the probes (0755): made on first use, once per session, removed at exit. The build may
    be in a clone only root can enter; a run as another user must still reach the binary it
    executes and the probes it binds into the jail."""
    global _staged
    if _staged is None:
        path = tempfile.mkdtemp(prefix="aj-stage-", dir="/tmp")
        atexit.register(shutil.rmtree, path, True)
        os.chmod(path, 0o755)
        shutil.copyfile(AGENTJAIL, os.path.join(path, "agentjail"))
        os.chmod(os.path.join(path, "agentjail"), 0o755)
        os.mkdir(os.path.join(path, "probe"), 0o755)
        if os.path.isdir(PROBES):
            for name in os.listdir(PROBES):
                source = os.path.join(PROBES, name)
                if os.path.isfile(source) and os.access(source, os.X_OK):
                    shutil.copyfile(source, os.path.join(path, "probe", name))
                    os.chmod(os.path.join(path, "probe", name), 0o755)
        _staged = path
    return _staged


def staged_file(path):
    """A copy of `path` (a script or program the tests run as another user) in staged(), 0755;
    copied once per session."""
    copy = os.path.join(staged(), os.path.basename(path))
    if not os.path.exists(copy):
        shutil.copyfile(path, copy)
        os.chmod(copy, 0o755)
    return copy


def as_other_user(user):
    """Whether running as `user` means another user than the tests' own (setpriv from root)."""
    return user is not None and user != os.geteuid()


def agentjail_for(user=None):
    """The agentjail binary to run as `user` (None: the tests' own user)."""
    return os.path.join(staged(), "agentjail") if as_other_user(user) and is_root() else AGENTJAIL


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
    argv = [agentjail_for(user), "run"]
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


def probe(name, user=None):
    """The probe's path on the host, for a run as `user` (None: the tests' own user)."""
    path = os.path.join(PROBES, name)
    if not os.path.exists(path):
        pytest.fail(f"probe {name} was not built at {path} (build target 'probes')")
    if as_other_user(user) and is_root():
        return os.path.join(staged(), "probe", name)
    return path


def probe_options(*names, user=None):
    """--ro options that bind each named probe at /probe/NAME inside the jail."""
    opts = []
    for name in names:
        opts += ["--ro", f"{probe(name, user)}:/probe/{name}"]
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
