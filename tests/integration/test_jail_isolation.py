"""SPEC §6: each test attacks one isolation property from inside the jail and fails if
the attack works."""
import os
import resource
import re
import socket
import stat
import subprocess
import tempfile
import textwrap
import threading
import time

import pytest

from conftest import AGENTJAIL, NOBODY, assert_ran, is_root, requires_root, requires_userns, run

pytestmark = requires_userns


def py(code, **kw):
    return run("python3", "-c", textwrap.dedent(code), policy="python", **kw)


def sh(script, policy="shell", **kw):
    return run("/bin/sh", "-c", script, policy=policy, **kw)


# --- filesystem -----------------------------------------------------------------------

def test_unmounted_host_files_are_invisible():
    r = sh("for p in /etc/shadow /etc/os-release /root /home /var /boot /srv /opt; do "
           "  if [ -e $p ]; then echo VISIBLE $p; fi; done; echo done")
    assert r.code == 0, r
    assert "VISIBLE" not in r.stdout, r
    assert "done" in r.stdout


def test_root_directory_holds_only_what_the_policy_lists():
    r = sh("ls -A /")
    assert r.code == 0, r
    assert set(r.stdout.split()) == {"bin", "dev", "etc", "lib", "lib64", "proc", "sbin", "tmp", "usr"}, r
    r = sh("ls -A /etc")
    assert set(r.stdout.split()) <= {"alternatives", "group", "hosts", "ld.so.cache", "passwd"}, r
    assert r.code == 0 and {"passwd", "group"} <= set(r.stdout.split()), r  # the listing ran


def test_root_is_read_only():
    r = sh("touch /newfile 2>&1; mkdir /newdir 2>&1; { echo x > /etc/passwd; } 2>&1; echo end")
    assert r.stdout.count("Read-only file system") == 3, r


def test_ro_bind_is_read_only(workdir):
    with open(os.path.join(workdir, "data"), "w") as f:
        f.write("original")
    r = sh("echo evil > /data/data; echo evil > /data/new; rm -f /data/data; cat /data/data",
           options=["--ro", f"{workdir}:/data"])
    assert "original" in r.stdout, r
    with open(os.path.join(workdir, "data")) as f:
        assert f.read() == "original"
    assert not os.path.exists(os.path.join(workdir, "new"))


def test_rw_bind_file_owner_on_host(workdir):
    r = sh("echo hi > /work/made-in-jail", options=["--rw", f"{workdir}:/work"])
    assert r.code == 0, r
    st = os.stat(os.path.join(workdir, "made-in-jail"))
    if is_root():
        # The uid leased for this jail alone (man agentjail(1), HOST IDS): never nobody's.
        assert 0x70000000 <= st.st_uid < 0x70000000 + 65536, f"owner {st.st_uid}"
    else:
        assert st.st_uid == os.geteuid(), f"owner {st.st_uid}, want {os.geteuid()}"
    assert st.st_uid != 0


def test_mounts_are_nosuid_and_nodev_except_dev():
    r = sh("cat /proc/self/mountinfo")
    assert r.code == 0, r
    for line in r.stdout.splitlines():
        fields = line.split()
        mount_point, options = fields[4], fields[5].split(",")
        assert "nosuid" in options, line
        device_ok = mount_point in {"/dev/pts"} or re.fullmatch(r"/dev/(null|zero|full|random|urandom|tty)", mount_point)
        if not device_ok:
            assert "nodev" in options, line
    mount_points = {line.split()[4] for line in r.stdout.splitlines()}
    assert {"/", "/proc", "/dev", "/tmp"} <= mount_points, r  # the jail's own mounts were read


def test_noexec_mount_refuses_exec(workdir):
    policy = os.path.join(workdir, "noexec.toml")
    with open(policy, "w") as f:
        f.write(textwrap.dedent("""
            version = 1
            extends = "shell"
            [[filesystem.mount]]
            type = "tmpfs"
            target = "/scratch"
            exec = false
        """))
    r = run("/bin/sh", "-c", 'cp /bin/true /scratch/t && echo COPIED && { /scratch/t && echo RAN; echo "exec rc=$?"; }; '
            "echo REACHED", policy=policy)
    assert "RAN" not in r.stdout, r
    # The copy landed on the tmpfs and its exec was refused (126), not skipped.
    assert "COPIED" in r.stdout and "exec rc=126" in r.stdout, r
    assert_ran(r, "REACHED")


def test_bind_target_cannot_escape_through_symlink(workdir):
    outside = tempfile.mkdtemp(prefix="aj-escape-")
    try:
        os.symlink(outside, os.path.join(workdir, "esc"))
        policy = os.path.join(workdir, "escape.toml")
        with open(policy, "w") as f:
            f.write(textwrap.dedent(f"""
                version = 1
                extends = "shell"
                [[filesystem.mount]]
                type = "bind"
                source = "{workdir}"
                target = "/work"
                read_only = false
                [[filesystem.mount]]
                type = "tmpfs"
                target = "/work/esc/inner"
                [[filesystem.mount]]
                type = "file"
                target = "/work/esc/planted"
                content = "x"
            """))
        r = run("/bin/true", policy=policy)
        assert os.listdir(outside) == [], "a mount target was created outside the jail's root"
        # The jail got as far as its mounts (the bind of /work was made) and refused there: the
        # absolute symlink resolves inside the new root, where its target does not exist.
        assert r.code == 125 and r.report["status"] == "setup_error", r
        assert "/work/esc" in r.report["error"] and "build-root" in r.stderr, r.report
    finally:
        subprocess.run(["rm", "-rf", outside])


def test_symlink_as_last_component_is_refused(workdir):
    os.symlink("/etc", os.path.join(workdir, "link"))
    policy = os.path.join(workdir, "link.toml")
    with open(policy, "w") as f:
        f.write(textwrap.dedent(f"""
            version = 1
            extends = "shell"
            [[filesystem.mount]]
            type = "bind"
            source = "{workdir}"
            target = "/work"
            read_only = false
            [[filesystem.mount]]
            type = "tmpfs"
            target = "/work/link"
        """))
    r = run("/bin/true", policy=policy)
    assert r.code == 125, r
    assert "symlink" in r.stderr, r


def test_mount_propagation_does_not_reach_host():
    with open("/proc/self/mountinfo") as f:
        before = f.read().count("\n")
    r = sh("wc -l < /proc/self/mountinfo")
    assert r.code == 0, r
    # The jail did make its mounts (a new root, /proc, /dev, /tmp, ...) while we looked.
    assert r.report["status"] == "ok" and int(r.stdout) >= 5, r
    with open("/proc/self/mountinfo") as f:
        after = f.read().count("\n")
    assert before == after


# --- /proc and /dev ---------------------------------------------------------------------

def test_proc_is_the_jails_own():
    r = sh("ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '")
    pids = [int(p) for p in r.stdout.split()]
    assert pids and max(pids) < 20, r
    assert 1 in pids


def test_proc_sys_and_sysrq_are_read_only():
    r = sh("for f in /proc/sys/kernel/ns_last_pid /proc/sysrq-trigger /proc/sys/net/ipv4/ip_forward "
           "/proc/sys/kernel/hostname; do if { echo 1 > $f; } 2>/dev/null; then echo WROTE $f; fi; done; echo end")
    assert "end" in r.stdout and "WROTE" not in r.stdout, r
    r = sh("{ echo 1 > /proc/sys/kernel/hostname; } 2>&1")
    assert "Read-only file system" in r.stdout, r


def test_sensitive_proc_files_are_masked():
    r = sh("for f in kcore kallsyms timer_list sched_debug keys; do "
           "  [ -e /proc/$f ] && printf '%s=%s\\n' $f $(head -c 64 /proc/$f 2>/dev/null | wc -c); done; echo REACHED >&2")
    for line in r.stdout.split():
        name, size = line.split("=")
        assert size == "0", f"/proc/{name} is readable: {r}"
    # kallsyms is in every kernel: at least it was found and measured (empty); the loop ended.
    assert_ran(r, "kallsyms=0")
    assert "REACHED" in r.stderr, r


def test_dev_holds_only_the_minimal_set():
    r = sh("ls -A /dev")
    assert set(r.stdout.split()) == {"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx",
                                     "shm", "fd", "stdin", "stdout", "stderr"}, r
    r = sh("head -c 4 /dev/zero | od -An -tx1; echo x > /dev/null && echo null-ok; head -c 8 /dev/urandom | wc -c")
    assert "00 00 00 00" in r.stdout and "null-ok" in r.stdout and "8" in r.stdout, r


def test_devpts_is_private():
    r = sh("ls /dev/pts")
    assert set(r.stdout.split()) <= {"ptmx"}, r
    # A fresh devpts instance, listed: it always has its own ptmx.
    assert "ptmx" in r.stdout.split(), r
    assert_ran(r, "ptmx")


def test_proc_exe_of_init_cannot_be_opened_for_writing():
    r = py("""
        import os
        for path in ["/proc/1/exe", "/proc/1/mem", "/proc/1/fd/0", "/proc/1/root/etc/passwd"]:
            try:
                fd = os.open(path, os.O_WRONLY)
                print("OPENED", path)
                os.close(fd)
            except OSError as e:
                print("refused", path, e.errno)
        try:
            print("READLINK", os.readlink("/proc/1/exe"))
        except OSError as e:
            print("readlink refused", e.errno)
        print("REACHED")
    """)
    assert "OPENED" not in r.stdout, r
    assert "READLINK" not in r.stdout, r
    # Each open was tried and refused, and so was the readlink.
    assert r.stdout.count("refused /proc/1/") == 4 and "readlink refused" in r.stdout, r
    assert_ran(r, "REACHED")


def test_proc_exe_overwrite_when_an_ordinary_user_owns_the_binary():
    """CVE-2019-5736's shape: the jailed uid owns the agentjail binary on the host."""
    if not is_root():
        pytest.skip("needs root to hand the binary to another user")
    tmp = tempfile.mkdtemp(prefix="aj-exe-")
    try:
        os.chmod(tmp, 0o755)
        copy = os.path.join(tmp, "agentjail")
        subprocess.run(["cp", AGENTJAIL, copy], check=True)
        os.chown(copy, NOBODY, NOBODY)
        with open(copy, "rb") as f:
            original = f.read()
        code = textwrap.dedent("""
            import os, glob
            for path in ["/proc/1/exe"] + glob.glob("/proc/[0-9]*/exe"):
                for flags in (os.O_WRONLY, os.O_RDWR | os.O_TRUNC):
                    try:
                        fd = os.open(path, flags)
                        os.write(fd, b"pwned")
                        print("WROTE", path)
                    except OSError:
                        pass
            print("REACHED")
        """)
        proc = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                               "--inh-caps=-all", copy, "run", "-p", "python", "--", "python3", "-c", code],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc
        assert "WROTE" not in proc.stdout, proc
        assert "REACHED" in proc.stdout, proc  # the attempts ran to their end in a jail
        with open(copy, "rb") as f:
            assert f.read() == original
    finally:
        subprocess.run(["rm", "-rf", tmp])


# --- processes --------------------------------------------------------------------------

def test_host_processes_cannot_be_seen_or_signalled():
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        r = sh(f"kill -0 {sleeper.pid} 2>&1 && echo SIGNALLED; kill -9 {sleeper.pid} 2>&1; "
               f"[ -e /proc/{sleeper.pid}/cmdline ] && grep -q sleep /proc/{sleeper.pid}/cmdline && echo SEEN; echo end")
        assert "SIGNALLED" not in r.stdout and "SEEN" not in r.stdout, r
        assert sleeper.poll() is None, "the host process was killed from inside the jail"
        # Both signals were sent and found no such process in the jail's pid namespace.
        assert r.stdout.count("No such process") == 2, r
        assert_ran(r, "end")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_init_command_line_does_not_show_agentjails(workdir):
    # agentjail's own argv holds host paths and --env values; the jail can read pid 1's.
    r = sh("tr '\\0' ' ' < /proc/1/cmdline; echo", options=["--env", "TOKEN=s3cr3t-value", "--ro", f"{workdir}:/data"])
    assert r.code == 0, r
    assert "s3cr3t" not in r.stdout and workdir not in r.stdout and AGENTJAIL not in r.stdout, r.stdout
    assert r.stdout.split() == ["agentjail-init"], r.stdout


def test_per_user_kernel_budgets_are_the_jails_own():
    # The kernel charges a user namespace's signals, mqueue bytes and inotify instances to its
    # owner (root, when root runs agentjail): a jail must not be able to take the caller's all.
    r = py("""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        fds = []
        while len(fds) < 1000:
            fd = libc.inotify_init1(0)
            if fd < 0:
                break
            fds.append(fd)
        print("inotify", len(fds), os.strerror(ctypes.get_errno()))
        for line in open("/proc/self/limits"):
            if line.startswith(("Max pending signals", "Max msgqueue size")):
                print(line.split()[-3], line.split()[-2])
    """)
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    # Half of the caller's limits shared by 4 jails (serve's default --max-jails), at most 32
    # instances and 64 KiB of queues (plan/budgets.h).
    with open("/proc/sys/user/max_inotify_instances") as f:
        instances = max(1, min(32, int(f.read()) // 2 // 4))
    queue = resource.getrlimit(resource.RLIMIT_MSGQUEUE)[0]
    queue = 65536 if queue == resource.RLIM_INFINITY else min(65536, queue // 2 // 4)
    assert lines[0] == f"inotify {instances} Too many open files", r.stdout
    assert lines[1:] == ["1024 1024", f"{queue} {queue}"], r.stdout


def marker_processes(marker):
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


def test_daemonized_grandchild_dies_with_the_run():
    marker = "31337.4242"
    r = sh(f"(setsid sh -c 'sleep {marker} & sleep {marker} &' &); sleep 0.2; echo started")
    assert r.code == 0 and "started" in r.stdout, r
    time.sleep(0.3)
    assert marker_processes(marker) == [], "a daemonized process outlived the run"


def test_sigkill_of_agentjail_kills_the_jail():
    marker = "31337.5151"
    proc = subprocess.Popen([AGENTJAIL, "run", "-p", "shell", "--", "/bin/sh", "-c",
                             f"sleep {marker} & sleep {marker}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if len(marker_processes(marker)) >= 2:
                break
            time.sleep(0.05)
        assert marker_processes(marker), "the jail never started"
        proc.kill()
        proc.wait()
        for _ in range(40):
            if not marker_processes(marker):
                break
            time.sleep(0.05)
        assert marker_processes(marker) == [], "jailed processes outlived a SIGKILLed agentjail"
    finally:
        proc.kill()


def test_sigterm_to_agentjail_kills_the_jail_and_still_reports(tmp_path):
    report_path = tmp_path / "report.json"
    os.chmod(tmp_path, 0o777)
    proc = subprocess.Popen([AGENTJAIL, "run", "-p", "shell", "--report", str(report_path), "--",
                             "/bin/sleep", "31337.6161"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # The jailed sleep itself, not agentjail's own command line that names it too.
    for _ in range(200):
        if any(line.split(None, 1)[1].startswith("/bin/sleep ") for line in marker_processes("31337.6161")):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the jailed sleep never started")
    proc.terminate()
    proc.wait(timeout=10)
    import json
    report = json.loads(report_path.read_text())
    assert report["status"] == "signal" and report["signal"] == "SIGTERM", report
    assert proc.returncode == 128 + 15
    assert marker_processes("31337.6161") == []


def test_nothing_left_after_a_setup_error(workdir):
    with open("/proc/self/mountinfo") as f:
        mounts_before = f.read()
    policy = os.path.join(workdir, "broken.toml")
    with open(policy, "w") as f:
        f.write('version = 1\nextends = "shell"\n[[filesystem.mount]]\ntype = "bind"\n'
                'source = "/nonexistent/agentjail-test"\ntarget = "/x"\n')
    r = run("/bin/sleep", "31337.7171", policy=policy)
    assert r.code == 125, r
    assert r.report["status"] == "setup_error", r.report
    assert "nonexistent" in r.report["error"]
    assert re.match(r"^agentjail: [a-z-]+: ", r.stderr), r.stderr
    assert marker_processes("31337.7171") == []
    with open("/proc/self/mountinfo") as f:
        assert f.read() == mounts_before


def test_new_session_has_no_controlling_terminal():
    r = py("""
        import os
        print("leader", os.getsid(0) == os.getpid())
        try:
            open("/dev/tty")
            print("TTY")
        except OSError as e:
            print("no tty", e.errno)
    """)
    assert "leader True" in r.stdout and "TTY" not in r.stdout, r
    assert "no tty" in r.stdout, r  # the open was tried, and refused
    assert_ran(r, "no tty")


# --- identity, capabilities, environment --------------------------------------------------

def test_capabilities_are_all_gone_and_no_new_privs_is_set():
    r = sh("grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status")
    fields = dict(line.split(":\t") for line in r.stdout.splitlines())
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(fields[cap], 16) == 0, r.stdout
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"


def test_uid_and_gid_inside_are_the_policys():
    r = sh("id -u; id -g; cat /proc/self/uid_map")
    lines = r.stdout.split("\n")
    assert lines[0] == str(NOBODY) and lines[1] == str(NOBODY), r
    inside, outside, count = lines[2].split()
    assert (int(inside), int(count)) == (NOBODY, 1)
    assert int(outside) != 0


def test_setuid_binaries_do_not_elevate(workdir):
    su = "/usr/bin/su"
    if not os.path.exists(su) or not os.stat(su).st_mode & stat.S_ISUID:
        pytest.skip(f"{su} is not a setuid binary here: nothing to elevate with")
    r = sh("su -c id root 2>&1; echo rc=$?")
    assert "uid=0" not in r.stdout, r
    # su ran (not "not found", 127) and failed as the jail's uid; the shell went on.
    rc = re.search(r"^rc=(\d+)$", r.stdout, re.M)
    assert rc and int(rc.group(1)) not in (0, 126, 127), r
    assert_ran(r, "rc=")


def test_environment_is_cleared():
    env = dict(os.environ, AGENTJAIL_SECRET="hunter2", TERM="xterm-test")
    r = sh("env", env=env)
    assert "hunter2" not in r.stdout, r
    names = {line.split("=", 1)[0] for line in r.stdout.splitlines()}
    assert names <= {"PATH", "HOME", "LANG", "TERM", "SHELL", "PWD", "SHLVL", "_"}, names
    assert "TERM=xterm-test" in r.stdout


def test_env_option_sets_a_variable():
    r = sh("echo $GREETING", options=["--env", "GREETING=hello"])
    assert r.stdout.strip() == "hello", r


def test_file_descriptors_do_not_leak():
    rfd, wfd = os.pipe()
    try:
        argv = [AGENTJAIL, "run", "-p", "python", "--", "python3", "-c",
                "import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd')))"]
        proc = subprocess.run(argv, capture_output=True, text=True, pass_fds=(rfd, wfd), timeout=60)
        fds = eval(proc.stdout.strip())
        assert fds == [0, 1, 2, 3], proc  # 3 is listdir's own
    finally:
        os.close(rfd)
        os.close(wfd)


def test_hostname_is_the_policys():
    r = sh("hostname")
    assert r.stdout.strip() == "agentjail", r


def test_umask_and_cwd():
    r = sh("umask; pwd")
    assert r.stdout.split() == ["0022", "/tmp"], r
    r = sh("pwd", options=["--cwd", "/usr"])
    assert r.stdout.strip() == "/usr", r


def test_ipc_namespace_is_private():
    r = sh("cat /proc/sysvipc/shm | wc -l")
    assert r.stdout.strip() == "1", r


NAMESPACE_KINDS = ("ipc", "uts", "cgroup", "net", "mnt", "pid", "user")


def jail_namespaces(policy="shell"):
    r = sh("for ns in " + " ".join(NAMESPACE_KINDS) + "; do echo $ns $(readlink /proc/self/ns/$ns); done",
           policy=policy)
    assert r.code == 0, r
    return dict(line.split(" ", 1) for line in r.stdout.splitlines()), r.report


def test_every_namespace_is_new():
    ours = {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in NAMESPACE_KINDS}
    theirs, _ = jail_namespaces()
    for kind in NAMESPACE_KINDS:
        assert theirs[kind] != ours[kind], f"the jail shares our {kind} namespace"


def test_namespaces_turned_off_are_shared_and_said(tmp_path):
    path = tmp_path / "nsoff.toml"
    path.write_text('version = 1\nextends = "shell"\n[namespaces]\nipc = false\nuts = false\ncgroup = false\n')
    os.chmod(tmp_path, 0o755)
    ours = {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in NAMESPACE_KINDS}
    theirs, report = jail_namespaces(str(path))
    for kind in ("ipc", "uts", "cgroup"):
        assert theirs[kind] == ours[kind], f"namespaces.{kind} = false, yet the jail got a {kind} namespace"
        assert any(w.startswith(f"namespaces.{kind} = false") for w in report["warnings"]), report["warnings"]
    for kind in ("net", "mnt", "pid", "user"):
        assert theirs[kind] != ours[kind], kind


# --- network ----------------------------------------------------------------------------

@pytest.fixture
def host_listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted = []

    def serve():
        server.settimeout(15)
        try:
            conn, _ = server.accept()
            accepted.append(True)
            conn.close()
        except OSError:
            pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    server.close()


# The socket is made inside the try: with network.mode = "none" the filter refuses it already.
CONNECT = """
import socket, sys
try:
    s = socket.socket()
    s.settimeout(3)
    s.connect(("127.0.0.1", int(sys.argv[1])))
    print("CONNECTED")
except OSError as e:
    print("refused", e)
"""


@pytest.mark.parametrize("mode", ["none", "loopback"])
def test_isolated_network_cannot_reach_host_loopback(host_listener, mode):
    port, accepted = host_listener
    r = run("python3", "-c", CONNECT, str(port), policy="python", options=["--net", mode])
    assert "CONNECTED" not in r.stdout, r
    assert not accepted
    assert_ran(r, "refused ")  # the connect was tried, and failed


def test_network_none_has_no_interface_up():
    # With network.mode = "none" the filter refuses AF_INET sockets, so an AF_UNIX socket asks
    # the jail's network namespace for each interface's flags (SIOCGIFFLAGS).
    r = py("""
        import fcntl, socket, struct
        try:
            s = socket.socket()
            s.bind(("127.0.0.1", 0)); s.listen(); c = socket.create_connection(s.getsockname(), timeout=2)
            print("LOOPBACK WORKS")
        except OSError as e:
            print("down", e)
        u = socket.socket(socket.AF_UNIX)
        for line in open("/proc/net/dev").readlines()[2:]:
            name = line.split(":")[0].strip()
            flags = struct.unpack("16sH", fcntl.ioctl(u, 0x8913, struct.pack("16sH", name.encode(), 0)))[1]
            print("interface", name, "up" if flags & 1 else "not-up")
    """)
    assert "LOOPBACK WORKS" not in r.stdout, r
    assert "down " in r.stdout, r  # the attempt was made, and failed
    interfaces = [line.split()[1:] for line in r.stdout.splitlines() if line.startswith("interface ")]
    assert interfaces == [["lo", "not-up"]], r  # only lo, and it is down
    assert_ran(r, "interface lo")


def test_loopback_mode_has_its_own_lo():
    r = py("""
        import socket
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
        c = socket.create_connection(s.getsockname(), timeout=2)
        print("LOOPBACK WORKS")
    """, options=["--net", "loopback"])
    assert "LOOPBACK WORKS" in r.stdout, r


def test_host_network_reaches_host_loopback(host_listener):
    port, accepted = host_listener
    r = run("python3", "-c", CONNECT, str(port), policy="python", options=["--net", "host"])
    assert "CONNECTED" in r.stdout, r
    assert_ran(r, "CONNECTED")


# --- both ways of running ---------------------------------------------------------------

def test_python_policy_runs_as_ordinary_user():
    r = run("python3", "-c", "import os; print(1, os.getuid())", policy="python", user=NOBODY)
    assert r.code == 0, r
    assert r.stdout.split() == ["1", "65534"], r


def test_unprivileged_path_denies_setgroups():
    r = run("/bin/cat", "/proc/self/setgroups", policy="shell", user=NOBODY)
    assert r.stdout.strip() == "deny", r


@requires_root
def test_root_path_drops_supplementary_groups():
    r = sh("grep Groups /proc/self/status")
    assert r.stdout.split() == ["Groups:"], r
