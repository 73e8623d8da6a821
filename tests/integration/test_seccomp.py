"""The seccomp filter inside real jails: every always-denied call is refused (each test fails if
the call works), the built-in interpreters and compilers run unharmed under @default, refusals
are recorded as violations, and each default_action does what the policy says. Also
`agentjail seccomp` itself, and its BPF under bubblewrap."""
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import textwrap

import pytest

from conftest import AGENTJAIL, NOBODY, PROBES, probe_options, requires_userns, run

pytestmark = requires_userns

EPERM, ENOSYS = 1, 38
TIOCSTI = 0x5412
AF_NETLINK, AF_INET, AF_PACKET, AF_KEY, AF_ALG, AF_VSOCK = 16, 2, 17, 15, 38, 40
ADDR_NO_RANDOMIZE = 0x40000

# probe -> the syscall the report must name (None: not recorded), its expected arguments
# (index -> value), and the errno the call must fail with.
ALWAYS_DENIED = {
    "sc_unshare": ("unshare", {}, EPERM),
    "sc_setns": ("setns", {}, EPERM),
    "sc_clone_newuser": ("clone", {}, EPERM),
    "sc_clone3_newuser": (None, {}, ENOSYS),
    "sc_tiocsti": ("ioctl", {1: TIOCSTI}, EPERM),
    "sc_af_packet": ("socket", {0: AF_PACKET}, EPERM),
    "sc_af_vsock": ("socket", {0: AF_VSOCK}, EPERM),
    "sc_af_alg": ("socket", {0: AF_ALG}, EPERM),
    "sc_af_key": ("socket", {0: AF_KEY}, EPERM),
    "sc_netlink_audit": ("socket", {0: AF_NETLINK, 2: 9}, EPERM),
    "sc_io_uring": ("io_uring_setup", {0: 4}, EPERM),
    "sc_bpf": ("bpf", {}, EPERM),
    "sc_perf_event_open": ("perf_event_open", {}, EPERM),
    "sc_userfaultfd": ("userfaultfd", {}, EPERM),
    "sc_keyctl": ("keyctl", {}, EPERM),
    "sc_add_key": ("add_key", {}, EPERM),
    "sc_mount": ("mount", {}, EPERM),
    "sc_umount": ("umount2", {}, EPERM),
    "sc_pivot_root": ("pivot_root", {}, EPERM),
    "sc_chroot": ("chroot", {}, EPERM),
    "sc_fsopen": ("fsopen", {}, EPERM),
    "sc_open_tree": ("open_tree", {}, EPERM),
    "sc_ptrace": ("ptrace", {0: 0}, EPERM),
    "sc_process_vm_readv": ("process_vm_readv", {}, EPERM),
    "sc_name_to_handle_at": ("name_to_handle_at", {}, EPERM),
    "sc_open_by_handle_at": ("open_by_handle_at", {}, EPERM),
    "sc_personality": ("personality", {0: ADDR_NO_RANDOMIZE}, EPERM),
    "sc_init_module": ("init_module", {}, EPERM),
    "sc_finit_module": ("finit_module", {}, EPERM),
    "sc_kexec_load": ("kexec_load", {}, EPERM),
    "sc_seccomp_listener": ("seccomp", {}, EPERM),
    "sc_x32": ("x32:getppid", {}, EPERM),
    "sc_int80": ("i386:getppid", {}, EPERM),
}

# Refused only when network.mode = "none".
NETWORK_NONE_ONLY = {
    "sc_af_inet": ("socket", {0: AF_INET}, EPERM),
    "sc_af_netlink": ("socket", {0: AF_NETLINK, 2: 0}, EPERM),
}

BLOCKED = re.compile(r"^BLOCKED errno=(\d+) ", re.M)


def write_policy(directory, body, name="test"):
    path = os.path.join(directory, f"{name}.toml")
    with open(path, "w") as f:
        f.write(textwrap.dedent(body))
    return path


@pytest.fixture
def policy_dir():
    path = tempfile.mkdtemp(prefix="aj-policy-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def notify_works(report):
    """Whether this run recorded violations (the kernel has user notification)."""
    return not any("no seccomp user notification" in w for w in report["warnings"])


def run_probe(name, *args, policy="default", options=(), user=None):
    return run(f"/probe/{name}", *args, policy=policy, options=list(options) + probe_options(name, user=user),
               user=user)


def check_blocked(r, name, expected, check_violation=True):
    syscall, args, errno = expected
    m = BLOCKED.search(r.stdout)
    assert m, f"{name} was not refused: {r!r}"
    assert int(m.group(1)) == errno, r
    assert r.code == 0, r
    if syscall is None or not check_violation or not notify_works(r.report):
        return
    hits = [v for v in r.report["violations"] if v["syscall"] == syscall]
    assert hits, f"{syscall} missing from violations: {r.report['violations']}"
    v = hits[0]
    assert v["action"] == "errno"
    assert v["pid"] >= 2, v  # a pid inside the jail's pid namespace (1 is its init)
    for index, value in args.items():
        assert v["args"][index] == value, v


@pytest.mark.parametrize("name", sorted(ALWAYS_DENIED))
def test_always_denied_call_is_refused(name):
    check_blocked(run_probe(name), name, ALWAYS_DENIED[name])


@pytest.mark.parametrize("name", ["sc_unshare", "sc_tiocsti", "sc_af_packet", "sc_x32", "sc_mount", "sc_bpf"])
def test_always_denied_for_an_unprivileged_caller(name):
    check_blocked(run_probe(name, user=NOBODY), name, ALWAYS_DENIED[name])


@pytest.mark.parametrize("name", sorted(NETWORK_NONE_ONLY))
def test_network_family_refused_without_network(name):
    check_blocked(run_probe(name), name, NETWORK_NONE_ONLY[name])


@pytest.mark.parametrize("name", sorted(NETWORK_NONE_ONLY))
def test_network_family_allowed_with_loopback(name):
    r = run_probe(name, options=["--net", "loopback"])
    assert r.stdout.startswith("ALLOWED"), r


@pytest.mark.parametrize("mode", ["loopback", "host"])
@pytest.mark.parametrize("name", ["sc_af_packet", "sc_af_vsock", "sc_netlink_audit"])
def test_dangerous_families_refused_in_every_network_mode(name, mode):
    check_blocked(run_probe(name, options=["--net", mode]), name, ALWAYS_DENIED[name])


def test_tiocsti_with_high_bits_is_refused():
    # The kernel reads the request as 32 bits; the filter must too.
    check_blocked(run_probe("sc_tiocsti", "high"), "sc_tiocsti", ("ioctl", {1: TIOCSTI | 1 << 32}, EPERM))


def test_always_denied_even_when_the_policy_allows_it_by_name(policy_dir):
    path = write_policy(policy_dir, """
        version = 1
        extends = "default"
        [seccomp]
        allow = ["@default", "unshare", "mount", "bpf", "ptrace", "io_uring_setup", "keyctl"]
    """)
    for name in ("sc_unshare", "sc_mount", "sc_bpf", "sc_ptrace", "sc_io_uring", "sc_keyctl"):
        check_blocked(run_probe(name, policy=path), name, ALWAYS_DENIED[name])


# --- setuid and setgid bits ---------------------------------------------------------------
# The jail's mounts are nosuid, but a read-write bind is a host directory: a setuid file made
# there would run, for any host user, as the jail's host uid.

@pytest.mark.parametrize("call, syscall, args", [
    ("fchmodat", "fchmodat", {2: 0o4755}),
    ("chmod", "chmod", {1: 0o4755}),
    ("open", "open", {2: 0o6755}),
])
def test_setuid_and_setgid_bits_are_refused(call, syscall, args):
    check_blocked(run_probe("sc_chmod_setuid", call), "sc_chmod_setuid", (syscall, args, EPERM))


@pytest.mark.parametrize("user", [None, NOBODY])
def test_no_setuid_file_on_a_rw_bind(workdir, user):
    host_file = os.path.join(workdir, "t")
    r = run("/bin/sh", "-c", "cp /bin/true /w/t && chmod 4755 /w/t", options=["--rw", f"{workdir}:/w"], user=user)
    assert r.code != 0, r
    assert "Operation not permitted" in r.stderr, r
    assert os.path.exists(host_file), r
    assert r.report["status"] == "exit" and r.report["exit_code"] == 1, r.report  # chmod's own failure
    assert not os.stat(host_file).st_mode & (stat.S_ISUID | stat.S_ISGID), oct(os.stat(host_file).st_mode)
    # A file of this run's own: run by root, each run is a host uid of its own, and /w/t is the
    # first run's.
    r = run("/bin/sh", "-c", "cp /bin/true /w/u; chmod g+s /w/u; install -m 6755 /bin/true /w/i; "
            "chmod 755 /w/u && echo chmodded", options=["--rw", f"{workdir}:/w"], user=user)
    assert "chmodded" in r.stdout, r
    assert stat.S_IMODE(os.stat(os.path.join(workdir, "u")).st_mode) == 0o755
    for name in os.listdir(workdir):
        assert not os.stat(os.path.join(workdir, name)).st_mode & (stat.S_ISUID | stat.S_ISGID), name


def test_ordinary_copies_keep_their_modes_on_a_rw_bind(workdir):
    code = textwrap.dedent("""
        import os, shutil, subprocess
        with open("/w/src", "w") as f:
            f.write("data")
        os.chmod("/w/src", 0o750)
        shutil.copy("/w/src", "/w/py")
        subprocess.run(["cp", "-p", "/w/src", "/w/cp"], check=True)
        subprocess.run(["install", "-m", "755", "/w/src", "/w/inst"], check=True)
        fd = os.open("/w/new", os.O_CREAT | os.O_WRONLY, 0o644)
        os.close(fd)
        os.mkdir("/w/dir", 0o755)
        os.mkfifo("/w/fifo", 0o644)
        print("copied")
    """)
    r = run("python3", "-c", code, policy="python", options=["--rw", f"{workdir}:/w"])
    assert_clean(r, "copied")
    modes = {name: stat.S_IMODE(os.stat(os.path.join(workdir, name)).st_mode)
             for name in ("src", "py", "cp", "inst", "new", "dir", "fifo")}
    assert modes == {"src": 0o750, "py": 0o750, "cp": 0o750, "inst": 0o755, "new": 0o644, "dir": 0o755,
                     "fifo": 0o644}, modes


# --- @default runs real programs unharmed ------------------------------------------------

PYTHON_WORKLOAD = """
import asyncio, multiprocessing, os, socket, sqlite3, ssl, subprocess, tempfile, threading

def square(x):
    return x * x

async def main():
    proc = await asyncio.create_subprocess_exec("/bin/true")
    await proc.wait()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(a, b"ping")
    assert await loop.sock_recv(b, 4) == b"ping"
    await asyncio.sleep(0.01)
    return proc.returncode

if __name__ == "__main__":
    ssl.create_default_context().load_default_certs()
    db = sqlite3.connect(os.path.join(tempfile.mkdtemp(), "t.db"))
    db.execute("create table t (x)")
    db.executemany("insert into t values (?)", [(i,) for i in range(100)])
    db.commit()
    assert db.execute("select sum(x) from t").fetchone()[0] == 4950
    with multiprocessing.Pool(2) as pool:
        assert sum(pool.map(square, range(10))) == 285
    out = subprocess.run(["/bin/echo", "child"], capture_output=True, text=True, check=True).stdout
    assert out == "child\\n"
    assert asyncio.run(main()) == 0
    t = threading.Thread(target=square, args=(3,))
    t.start()
    t.join()
    print("python ok")
"""


def assert_clean(r, marker):
    assert r.code == 0, r
    assert marker in r.stdout, r
    assert r.report["status"] == "ok", r.report
    assert r.report["violations"] == [], r.report["violations"]


def test_default_runs_python_with_ssl_sqlite_multiprocessing_asyncio_subprocess():
    assert_clean(run("python3", "-c", PYTHON_WORKLOAD, policy="python"), "python ok")


def test_default_runs_python_for_an_unprivileged_caller():
    assert_clean(run("python3", "-c", PYTHON_WORKLOAD, policy="python", user=NOBODY), "python ok")


def test_default_runs_node():
    script = ("const cp = require('child_process'), fs = require('fs'), crypto = require('crypto');"
              "fs.writeFileSync('/tmp/x', 'data'); if (fs.readFileSync('/tmp/x', 'utf8') !== 'data') process.exit(3);"
              "if (cp.execFileSync('/bin/echo', ['sub']).toString() !== 'sub\\n') process.exit(4);"
              "crypto.createHash('sha256').update('x').digest('hex');"
              "fs.promises.readFile('/tmp/x').then(() => setTimeout(() => console.log('node ok'), 10));")
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    assert_clean(run("node", "-e", script, policy="node"), "node ok")


def test_default_runs_bash():
    script = ("set -e; for i in 1 2 3; do echo $i | cat > /tmp/f; done; x=$(ls /); read -r y < /tmp/f; "
              "trap 'true' INT; ( sleep 0.01 & wait ); ulimit -n >/dev/null; echo bash ok")
    assert_clean(run("/bin/bash", "-c", script, policy="shell"), "bash ok")


def test_default_runs_gcc_and_make(workdir):
    with open(os.path.join(workdir, "hello.c"), "w") as f:
        f.write('#include <stdio.h>\nint main(void) { puts("compiled ok"); return 0; }\n')
    with open(os.path.join(workdir, "Makefile"), "w") as f:
        f.write("hello: hello.c\n\tgcc -O2 -o hello hello.c\n")
    r = run("/bin/sh", "-c", "make -s && ./hello", policy="ci", options=["--rw", f"{workdir}:/work"])
    assert_clean(r, "compiled ok")


# --- violations and actions --------------------------------------------------------------

def test_refused_call_is_named_in_violations(policy_dir):
    path = write_policy(policy_dir, """
        version = 1
        extends = "default"
        [seccomp]
        deny = ["mkdir", "mkdirat"]
        errno = "EACCES"
    """)
    # One process refused twice, then another once: one entry per (call, pid), with a count.
    r = run("/bin/sh", "-c", "mkdir /tmp/d /tmp/e; mkdir /tmp/f; echo rc=$?", policy=path)
    assert "Permission denied" in r.stderr, r
    if not notify_works(r.report):
        pytest.skip("no seccomp user notification on this kernel: violations are not recorded")
    hits = [v for v in r.report["violations"] if v["syscall"] in ("mkdir", "mkdirat")]
    assert [v["count"] for v in hits] == [2, 1], r.report["violations"]
    assert hits[0]["pid"] != hits[1]["pid"] and min(v["pid"] for v in hits) >= 2, hits
    for v in hits:
        assert v["action"] == "errno", v
        assert len(v["args"]) == (2 if v["syscall"] == "mkdir" else 3), v
        assert v["args"][-1] == 0o777, v  # the mode mkdir(1) asks for


def test_repeated_refusals_are_folded_and_capped(policy_dir):
    code = ("import ctypes\nlibc = ctypes.CDLL(None)\n"
            "for nr in range(600, 700):\n    libc.syscall(nr); libc.syscall(nr)\nprint('looped')")
    r = run("python3", "-c", code, policy="python")
    assert "looped" in r.stdout, r
    if not notify_works(r.report):
        pytest.skip("no seccomp user notification on this kernel")
    violations = r.report["violations"]
    ours = [v for v in violations if 600 <= v["nr"] < 700]
    assert len(violations) == 64, len(violations)
    assert ours and all(v["count"] == 2 and v["syscall"] == "unknown" for v in ours), ours[:3]
    assert r.report["violations_dropped"] == 2 * (100 - len(ours))


def test_a_flood_of_refused_calls_is_answered_at_a_bounded_rate():
    # Each refusal costs the supervisor, outside the jail's cgroup, far more than the jail: past
    # a burst of 1000 they are answered at 10,000 a second, and the report says so.
    code = ("import ctypes\nlibc = ctypes.CDLL(None)\n"
            "for i in range(3000):\n    libc.syscall(238, 5, 0, 0)\nprint('looped')")  # set_mempolicy
    r = run("python3", "-c", code, policy="python")
    assert "looped" in r.stdout, r
    if not notify_works(r.report):
        pytest.skip("no seccomp user notification on this kernel")
    hits = [v for v in r.report["violations"] if v["syscall"] == "set_mempolicy"]
    assert [v["count"] for v in hits] == [3000], hits
    assert any(w.startswith("seccomp.notify: refused calls came faster") for w in r.report["warnings"]), r.report
    r = run("python3", "-c", code.replace("3000", "100"), policy="python")
    assert not any(w.startswith("seccomp.notify:") for w in r.report["warnings"]), r.report
    assert "looped" in r.stdout and r.report["status"] == "ok", r  # the 100 refusals were made


@pytest.mark.parametrize("notify", [True, False])
def test_kill_action_ends_the_jail_with_status_seccomp(policy_dir, notify):
    path = write_policy(policy_dir, f"""
        version = 1
        extends = "default"
        [seccomp]
        default_action = "kill"
        notify = {"true" if notify else "false"}
    """)
    r = run_probe("sc_unshare", policy=path)
    assert "ALLOWED" not in r.stdout and "BLOCKED" not in r.stdout, r
    assert r.report["status"] == "seccomp", r.report
    assert r.code == 128 + 31 and r.report["signal"] == "SIGSYS", r  # killed by the call itself
    if notify and notify_works(r.report):
        assert [v["syscall"] for v in r.report["violations"]] == ["unshare"], r.report
        assert r.report["violations"][0]["action"] == "kill"


def test_log_action_lets_unlisted_calls_run_but_not_the_always_denied(policy_dir):
    path = write_policy(policy_dir, """
        version = 1
        extends = "default"
        [seccomp]
        default_action = "log"
        deny = ["mkdir", "mkdirat"]
    """)
    r = run("/bin/sh", "-c", "mkdir /tmp/d && test -d /tmp/d && echo made", policy=path)
    assert "made" in r.stdout, r
    if notify_works(r.report):
        assert [v["action"] for v in r.report["violations"]] == ["log"], r.report["violations"]
    r = run_probe("sc_unshare", policy=path)
    m = BLOCKED.search(r.stdout)
    assert m and int(m.group(1)) == EPERM, r


# --- agentjail seccomp ---------------------------------------------------------------------

def seccomp_cmd(*args, **kw):
    return subprocess.run([AGENTJAIL, "seccomp", *args], capture_output=True, **kw)


def test_pfc_starts_with_the_architecture_check():
    r = seccomp_cmd("-p", "python", "--format", "pfc", text=True)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l and not l.startswith("#")]
    assert lines[0] == "if ($arch == 3221225534)", lines[:3]


def test_bpf_is_a_whole_program_and_notify_changes_it():
    plain = seccomp_cmd("--format", "bpf", "--no-notify")
    assert plain.returncode == 0 and len(plain.stdout) % 8 == 0 and len(plain.stdout) > 8 * 100
    again = seccomp_cmd("--format", "bpf", "--no-notify")
    assert again.stdout == plain.stdout  # deterministic: what is exported is what runs


def test_sets_are_listed():
    r = seccomp_cmd("--sets", text=True)
    assert r.returncode == 0
    for name in ("@default", "@file-system", "@network", "@process", "@signal", "@ipc", "@memory", "@time"):
        assert re.search(rf"^{re.escape(name)} - ", r.stdout, re.M), name
    assert "Always refused" in r.stdout and "unshare" in r.stdout


def test_bad_policy_is_one_line_and_125(policy_dir):
    path = write_policy(policy_dir, """
        version = 1
        [seccomp]
        allow = ["@defualt"]
    """)
    r = seccomp_cmd("-p", path, text=True)
    assert r.returncode == 125, r
    assert r.stderr.startswith("agentjail: "), r.stderr
    assert r.stdout == ""
    assert "@defualt" in r.stderr, r.stderr  # the line is about the mistake


def test_bpf_is_not_written_to_a_terminal():
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(AGENTJAIL, [AGENTJAIL, "seccomp", "--format", "bpf"])
    output = b""
    try:
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            output += chunk
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 125, output
    assert b"terminal" in output


@pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed")
@pytest.mark.parametrize("notify", [False, True])
def test_exported_filter_works_under_bwrap(tmp_path, notify):
    args = ["--format", "bpf"] + ([] if notify else ["--no-notify"])
    bpf = tmp_path / "filter.bpf"
    bpf.write_bytes(seccomp_cmd(*args).stdout)
    with open(bpf, "rb") as f:
        r = subprocess.run(["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", PROBES, "/probe",
                            "--proc", "/proc", "--dev", "/dev", "--seccomp", str(f.fileno()),
                            "/probe/sc_unshare"], pass_fds=[f.fileno()], capture_output=True, text=True)
    m = BLOCKED.search(r.stdout)
    assert m, r
    # bwrap has no listener: a notify filter's refusals come back as ENOSYS (documented in --help).
    notify_filter = seccomp_cmd("--format", "bpf").stdout != seccomp_cmd("--format", "bpf", "--no-notify").stdout
    assert int(m.group(1)) == (ENOSYS if notify and notify_filter else EPERM), r
