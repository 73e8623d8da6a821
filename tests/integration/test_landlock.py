"""Landlock, the second fence (agentjail-policy(5), LANDLOCK): each attack below gets past the
mounts alone, which each test shows with a control run under `landlock = "off"` (or an ABI
capped below the right that stops it), and must fail with the ruleset in place."""
import json
import os
import socket
import subprocess
import tempfile
import textwrap
import uuid

import pytest

from conftest import AGENTJAIL, NOBODY, agentjail_for, as_user_prefix, assert_ran, is_root, requires_userns, run

pytestmark = requires_userns


def kernel_abi():
    proc = subprocess.run([AGENTJAIL, "doctor", "--json"], capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc
    return json.loads(proc.stdout)["landlock"]["abi"]


KERNEL_ABI = kernel_abi()


def requires_abi(abi):
    return pytest.mark.skipif(
        KERNEL_ABI < abi,
        reason=f"this kernel's Landlock ABI is {KERNEL_ABI}; the test needs ABI {abi}"
        if KERNEL_ABI else "this kernel has no Landlock (doctor: landlock no)")


requires_landlock = requires_abi(1)


@pytest.fixture
def policy_dir():
    """Policy files every user can read (the ordinary-user runs load them too)."""
    path = tempfile.mkdtemp(prefix="aj-landlock-")
    os.chmod(path, 0o755)
    yield path
    subprocess.run(["rm", "-rf", path])


def policy_file(directory, landlock, name="p"):
    path = os.path.join(directory, f"{name}-{landlock}.toml")
    with open(path, "w") as f:
        f.write(f'version = 1\nname = "landlock-{landlock}"\nextends = "python"\nlandlock = "{landlock}"\n')
    os.chmod(path, 0o644)
    return path


def py(code, policy_path, options=(), **kw):
    return run("python3", "-c", textwrap.dedent(code), policy=policy_path, options=options, **kw)


# --- the attacks -------------------------------------------------------------------------

REOPEN_STDIN = "printf gone > /proc/self/fd/0; echo reopened >&2"


def reopen_stdout(victim, policy_path, user=None):
    """Pass-through mode: the jail's stdin is the caller's file, opened read-only. The jail
    reopens it for writing through /proc/self/fd/0: a file of the host the mounts never showed
    it, whose mode lets the jail's uid write."""
    report = os.path.join(os.path.dirname(victim), f"report-{uuid.uuid4().hex}.json")
    argv = [agentjail_for(user), "run", "--policy", policy_path, "--report", report, "--",
            "/bin/sh", "-c", REOPEN_STDIN]
    if user is not None:
        argv = as_user_prefix(user, user) + argv
    with open(victim) as stdin:
        proc = subprocess.run(argv, stdin=stdin, capture_output=True, text=True, timeout=60)
    with open(report) as f:
        parsed = json.load(f)
    os.unlink(report)
    with open(victim) as f:
        return proc, parsed, f.read()


def make_victim(directory, owner=None):
    victim = os.path.join(directory, "caller.log")
    with open(victim, "w") as f:
        f.write("precious\n")
    # Writable by the jail's uid, as the caller's own files are to a jail an ordinary user runs.
    os.chmod(victim, 0o666)
    if owner is not None and is_root():
        os.chown(victim, owner, owner)
    return victim


@requires_landlock
@pytest.mark.parametrize("user", [None, NOBODY], ids=["own-user", "ordinary-user"])
def test_reopen_of_the_callers_read_only_file_for_writing_is_refused(policy_dir, workdir, user):
    if user is not None and not is_root() and os.geteuid() != user:
        pytest.skip("needs root to run as another user")
    victim = make_victim(workdir, owner=user)
    proc, report, content = reopen_stdout(victim, policy_file(policy_dir, "best-effort"), user=user)
    assert content == "precious\n", (content, proc.stderr)
    assert "Permission denied" in proc.stderr, proc.stderr
    assert report["enforcement"]["landlock"]["abi_used"] >= 1, report
    # Control: the mounts alone let the same command truncate the caller's file.
    victim = make_victim(workdir, owner=user)
    proc, report, content = reopen_stdout(victim, policy_file(policy_dir, "off"), user=user)
    assert report["enforcement"]["landlock"] is False, report
    assert content == "gone", (content, proc.stderr)


TRUNCATE_STDOUT = """
import os
try:
    os.truncate("/proc/self/fd/0", 0)
    print("truncated")
except OSError as e:
    print("refused", e.errno)
"""


@requires_abi(3)
def test_truncate_through_proc_fd_needs_abi_3(policy_dir, workdir):
    """truncate(2) by path: ABI 3's truncate right stops it where ABI 2's write right cannot."""
    policy = policy_file(policy_dir, "best-effort")
    report_path = os.path.join(workdir, "r.json")

    def truncate_stdout(options):
        victim = make_victim(workdir)
        argv = [AGENTJAIL, "run", "--policy", policy, "--report", report_path, *options, "--",
                "python3", "-c", TRUNCATE_STDOUT]
        with open(victim) as stdin:
            proc = subprocess.run(argv, stdin=stdin, capture_output=True, text=True, timeout=60)
        with open(report_path) as f:
            report = json.load(f)
        with open(victim) as f:
            return proc, report, f.read() + proc.stdout

    proc, report, content = truncate_stdout([])
    assert content == "precious\nrefused 13\n", (content, proc.stderr)
    assert "truncate" not in report["enforcement"]["landlock"]["not_enforced"]
    # ABI 2 has no truncate right: the report says so, and truncate(2) goes through.
    proc, report, content = truncate_stdout(["--landlock-max-abi", "2"])
    assert report["enforcement"]["landlock"]["abi_used"] == 2, report
    assert "truncate" in report["enforcement"]["landlock"]["not_enforced"], report
    assert any(w.startswith("landlock: truncate not enforced") for w in report["warnings"]), report["warnings"]
    assert "precious" not in content and "truncated" in content, (content, proc.stderr)


MKNOD = """
    import os, stat
    try:
        os.mknod("/tmp/whiteout", stat.S_IFCHR | 0o600, 0)
        print("made", oct(os.stat("/tmp/whiteout").st_mode))
    except OSError as e:
        print("refused", e.errno)
    os.mkfifo("/tmp/fifo")
    print("fifo ok")
"""


REAL_DEVICE = """
    import os, stat
    try:
        os.mknod("/tmp/null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        print("made", oct(os.stat("/tmp/null").st_mode))
    except OSError as e:
        print("refused", e.errno)
"""


@requires_landlock
def test_no_real_device_node_in_a_writable_mount(policy_dir):
    r = py(REAL_DEVICE, policy_file(policy_dir, "best-effort"))
    assert_ran(r, "refused 13")  # EACCES: Landlock's answer, before the capability check
    control = py(REAL_DEVICE, policy_file(policy_dir, "off"))
    assert_ran(control, "refused 1")  # EPERM: without Landlock only the missing CAP_MKNOD stops it


# Whiteouts (char 0:0) are the one device a user namespace may create. Measured in the VM:
# Debian's 6.1 kernel (Landlock ABI 2) lets them through Landlock's make_char right; the
# kernels with ABI 3 and later that we run on refuse them. ABI 3 stands in for "newer than 6.1".
@requires_abi(3)
def test_no_device_node_in_a_writable_mount(policy_dir):
    r = py(MKNOD, policy_file(policy_dir, "best-effort"))
    assert_ran(r, "fifo ok")  # writable mounts still take FIFOs
    assert "refused 13" in r.stdout, r  # EACCES: Landlock's answer (the kernel's own is EPERM)
    control = py(MKNOD, policy_file(policy_dir, "off"))
    assert_ran(control, "fifo ok")
    if "refused 1" in control.stdout:
        pytest.skip("this kernel refuses whiteout devices to the jail itself: the control cannot show the gap")
    assert "made 0o20600" in control.stdout, control


ABSTRACT_CONNECT = """
    import socket, sys
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(b"\\0" + sys.argv[1].encode())
        print("connected")
    except OSError as e:
        print("refused", e.errno)
"""


@requires_abi(6)
def test_host_abstract_socket_unreachable_with_network_host(policy_dir):
    name = f"agentjail-landlock-test-{uuid.uuid4().hex}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(b"\0" + name.encode())
    listener.listen(4)
    try:
        policy = policy_file(policy_dir, "best-effort")
        code = textwrap.dedent(ABSTRACT_CONNECT)
        r = run("python3", "-c", code, name, policy=policy, options=["--net", "host"])
        assert r.code == 0, r
        assert "refused 1" in r.stdout, r  # EPERM: the scope's answer
        assert "abstract_unix_socket" not in r.report["enforcement"]["landlock"]["not_enforced"]
        # Control: without the scope (ABI 5), the shared network namespace is the way out.
        r = run("python3", "-c", code, name, policy=policy, options=["--net", "host", "--landlock-max-abi", "5"])
        assert "connected" in r.stdout, r
        assert "abstract_unix_socket" in r.report["enforcement"]["landlock"]["not_enforced"]
    finally:
        listener.close()


# --- what the jail may still do -----------------------------------------------------------

def test_dev_stdout_reopens_as_it_was_opened(workdir):
    out = os.path.join(workdir, "out")
    with open(out, "w") as f:
        os.chmod(out, 0o666)  # the jail's uid may write it, as a caller's own file
        proc = subprocess.run([AGENTJAIL, "run", "--", "/bin/sh", "-c", "echo hi > /dev/stdout"], stdout=f,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    with open(out) as f:
        assert f.read() == "hi\n"


WORK = """
    import os, subprocess
    os.makedirs("/work/a/b")
    with open("/work/a/f", "w") as f:
        f.write("x")
    os.rename("/work/a/f", "/work/a/b/f")          # across directories: the refer right
    os.symlink("b/f", "/work/a/link")
    os.truncate("/work/a/b/f", 0)
    with open("/work/run.sh", "w") as f:
        f.write("#!/bin/sh\\necho built-and-run\\n")
    os.chmod("/work/run.sh", 0o755)
    print(subprocess.run(["/work/run.sh"], capture_output=True, text=True).stdout.strip())
    os.unlink("/work/a/link")
    print(sorted(os.listdir("/")) != [], "listed")
"""


@requires_landlock
def test_writable_mounts_stay_usable(policy_dir, workdir):
    r = py(WORK, policy_file(policy_dir, "best-effort"), options=["--rw", f"{workdir}:/work"])
    assert_ran(r, "built-and-run")
    assert "True listed" in r.stdout, r
    assert r.report["enforcement"]["landlock"]["abi_used"] >= 1


@requires_abi(2)
def test_abi_1_refuses_renames_across_directories_as_documented(policy_dir):
    code = """
        import os
        os.mkdir("/tmp/d")
        open("/tmp/f", "w").close()
        try:
            os.rename("/tmp/f", "/tmp/d/f")
            print("renamed")
        except OSError as e:
            print("refused", e.errno)
    """
    r = py(code, policy_file(policy_dir, "best-effort"), options=["--landlock-max-abi", "1"])
    assert r.code == 0, r
    assert "refused 18" in r.stdout, r  # EXDEV
    assert any(w.startswith("landlock: refer not enforced") and "EXDEV" in w for w in r.report["warnings"])
    r = py(code, policy_file(policy_dir, "best-effort"))
    assert "renamed" in r.stdout, r


# --- the policy key and the report -----------------------------------------------------------

def test_required_without_landlock_fails_before_the_command(policy_dir, workdir):
    marker = os.path.join(workdir, "ran")
    r = run("/bin/sh", "-c", "touch /work/ran", policy=policy_file(policy_dir, "required"),
            options=["--rw", f"{workdir}:/work", "--landlock-max-abi", "0"], json_mode=True)
    assert r.code == 125, r
    assert r.report["status"] == "setup_error", r.report
    assert 'landlock = "required"' in r.report["error"], r.report
    assert not os.path.exists(marker)


@requires_landlock
def test_required_runs_where_the_kernel_has_landlock(policy_dir):
    r = run("/bin/true", policy=policy_file(policy_dir, "required"), json_mode=True)
    assert r.code == 0, r
    assert r.report["enforcement"]["landlock"]["abi_used"] == min(KERNEL_ABI, 6)


def test_off_reports_false_and_no_warning(policy_dir):
    r = run("/bin/true", policy=policy_file(policy_dir, "off"), json_mode=True)
    assert r.code == 0, r
    assert r.report["enforcement"]["landlock"] is False
    assert not [w for w in r.report["warnings"] if w.startswith("landlock:")]


def test_best_effort_reports_one_warning_per_missing_right(policy_dir):
    cap = 2 if KERNEL_ABI >= 2 else KERNEL_ABI
    r = run("/bin/true", policy=policy_file(policy_dir, "best-effort"), options=["--landlock-max-abi", str(cap)],
            json_mode=True)
    assert r.code == 0, r
    landlock = r.report["enforcement"]["landlock"]
    assert landlock["abi_kernel"] == KERNEL_ABI
    assert landlock["abi_used"] == cap
    warnings = [w for w in r.report["warnings"] if w.startswith("landlock:")]
    if cap == 0:
        assert len(warnings) == 1 and "not enforced" in warnings[0], warnings
        assert "read_file" in landlock["not_enforced"]
    else:
        assert landlock["not_enforced"] == ["truncate", "ioctl_dev", "abstract_unix_socket", "signal"]
        assert len(warnings) == len(landlock["not_enforced"]), warnings
        for right in landlock["not_enforced"]:
            assert any(w.startswith(f"landlock: {right} not enforced") for w in warnings), (right, warnings)


def test_landlock_max_abi_rejects_a_negative_cap():
    proc = subprocess.run([AGENTJAIL, "run", "--landlock-max-abi", "-1", "--", "/bin/true"], capture_output=True,
                          text=True)
    assert proc.returncode == 125, proc
