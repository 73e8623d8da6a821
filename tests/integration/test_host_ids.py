"""A host uid per jail, a process group of its own, standard streams the jail can reopen
(man agentjail(1): HOST IDS, STANDARD STREAMS). Each test attacks from inside a jail, from a
concurrent jail or from a host process running as the uid every jail used to share (65534),
and fails if the attack works."""
import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time

import pytest

from conftest import NOBODY, agentjail_for, as_user_prefix, is_root, requires_root, requires_userns, run

pytestmark = requires_userns

DEFAULT_FIRST, DEFAULT_COUNT = 0x70000000, 65536
# A range of one id no account uses and no default run leases: the lease tests own it.
SOLO = 1880000000


def status_ids(pid):
    """The real uid and gid of a host process, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def descendants(pid):
    """Every host process below `pid` (its children, theirs, ...)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def parent(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


class Jail:
    """An agentjail run in the background whose command prints READY and then sleeps."""

    def __init__(self, script="echo READY; exec sleep 60", options=(), user=None, policy="shell"):
        argv = [agentjail_for(user), "run", "-p", policy, *options, "--", "/bin/sh", "-c", script]
        if user is not None:
            argv = as_user_prefix(user, user) + argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert "READY" in line, (line, self.proc.stderr.read() if self.proc.poll() is not None else "")

    def command_pid(self):
        """The host pid of the jailed command (the jail's init is agentjail-init)."""
        for _ in range(100):
            pids = [p for p in descendants(self.proc.pid) if comm(p) == "sleep"]
            if pids:
                return pids[0]
            time.sleep(0.05)
        raise AssertionError("no jailed sleep below agentjail")

    def end(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


# --- one host uid per jail -------------------------------------------------------------

@requires_root
def test_concurrent_jails_get_distinct_host_uids_none_of_them_nobody():
    jails = [Jail(), Jail()]
    try:
        ids = []
        for jail in jails:
            pid = jail.command_pid()
            uid, gid = status_ids(pid)
            init = [p for p in descendants(jail.proc.pid) if parent(p) == jail.proc.pid]  # pid 1 of the jail
            assert len(init) == 1 and status_ids(init[0]) == (uid, gid), "the jail's init and command share a uid"
            ids.append((uid, gid))
        (uid_a, gid_a), (uid_b, gid_b) = ids
        assert uid_a != uid_b and gid_a != gid_b, ids
        for uid, gid in ids:
            assert uid == gid, ids
            assert uid not in (0, NOBODY), ids
            assert DEFAULT_FIRST <= uid < DEFAULT_FIRST + DEFAULT_COUNT, ids
    finally:
        for jail in jails:
            jail.end()


@requires_root
def test_a_host_process_running_as_nobody_cannot_signal_a_jailed_process():
    jail = Jail()
    try:
        pid = jail.command_pid()
        for sig in ("STOP", "KILL"):
            proc = subprocess.run(as_user_prefix() + ["kill", f"-{sig}", str(pid)], capture_output=True, text=True)
            assert proc.returncode != 0, (sig, proc)
            assert "not permitted" in proc.stderr, proc
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        assert state == "S", state  # still sleeping: neither stopped nor killed
    finally:
        jail.end()


INFLIGHT = textwrap.dedent("""
        import array, errno, os, socket, sys, time
        a, b = socket.socketpair()
        a.setblocking(False)
        fd = os.open("/dev/null", os.O_RDONLY)
        sent = 0
        try:
            while True:
                a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd] * 200))])
                sent += 200
        except OSError as e:
            print("READY", sent, errno.errorcode.get(e.errno), flush=True)
        time.sleep(60)
""")


def staged_file_text(name, text):
    """A file with `text` in a directory every user can read."""
    directory = tempfile.mkdtemp(prefix="aj-file-", dir="/tmp")
    atexit.register(shutil.rmtree, directory, True)
    os.chmod(directory, 0o755)
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


@requires_root
def test_fds_in_flight_in_one_jail_do_not_stop_another_from_starting():
    # unix_inflight is counted per user: one jail holding its RLIMIT_NOFILE's worth of
    # descriptors in flight over SCM_RIGHTS made every jail of the same uid fail to send its
    # seccomp listener ("Too many references").
    holder = subprocess.Popen([agentjail_for(), "run", "-p", "python", "--", "python3", "-c", INFLIGHT],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = holder.stdout.readline()
        assert line.startswith("READY") and "ETOOMANYREFS" in line, (line, holder.poll())
        assert int(line.split()[1]) >= 256, line  # past the default open_files: the budget is spent
        r = run("/bin/sh", "-c", "echo STARTED", policy="shell")
        assert r.code == 0 and "STARTED" in r.stdout, r
        assert r.report["status"] == "ok", r.report
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.communicate(timeout=30)


@requires_root
def test_one_id_range_is_one_jail_at_a_time_and_a_sigkilled_run_gives_it_back():
    options = ["--uid-range", f"{SOLO}-{SOLO}"]
    first = Jail(options=options)
    try:
        assert status_ids(first.command_pid()) == (SOLO, SOLO)
        busy = run("true", options=options, json_mode=True)
        assert busy.code == 125, busy
        assert "in use" in busy.report["error"], busy.report
        first.proc.send_signal(signal.SIGKILL)  # no destructor runs: only the kernel can let go
        first.proc.wait(timeout=30)
    finally:
        first.end()
    # The jail dies with its agentjail (parent-death signal); the lock went with its descriptor.
    r = run("/bin/sh", "-c", "echo AGAIN", policy="shell", options=options)
    assert r.code == 0 and "AGAIN" in r.stdout, r


@requires_root
def test_host_user_in_the_policy_still_wins(tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text('version = 1\nextends = "shell"\n[process]\nhost_user = 4242\nhost_group = 4343\n')
    os.chmod(tmp_path, 0o755)
    jail = Jail(policy=str(policy))
    try:
        assert status_ids(jail.command_pid()) == (4242, 4343)
    finally:
        jail.end()


def test_uid_range_that_includes_nobody_is_refused():
    r = run("true", options=["--uid-range", "60000-70000"], json_mode=True)
    assert r.code == 125, r
    assert "nobody" in r.report["error"], r.report


# --- a process group of its own --------------------------------------------------------

def shared_session_policy(tmp_path):
    """A policy with new_session = false, in a directory every user can read."""
    directory = tempfile.mkdtemp(prefix="aj-session-", dir="/tmp")
    atexit.register(shutil.rmtree, directory, True)
    os.chmod(directory, 0o755)
    path = os.path.join(directory, "shared-session.toml")
    with open(path, "w") as f:
        f.write('version = 1\nextends = "shell"\n[process]\nnew_session = false\n')
    os.chmod(path, 0o644)
    return path


@pytest.mark.parametrize("user", [None, NOBODY], ids=["own-user", "ordinary-user"])
def test_command_leads_its_own_process_group_without_a_new_session(tmp_path, user):
    if user is not None:
        as_user_prefix(user, user)  # skips where the tests cannot become that user
    r = run("/bin/sh", "-c", 'read -r pid comm state ppid pgrp sid rest < /proc/$$/stat; echo "$pid $pgrp $sid"',
            policy=shared_session_policy(tmp_path), user=user)
    assert r.code == 0, r
    pid, pgrp, sid = r.stdout.split()
    assert pgrp == pid, r.stdout  # the group leader; the caller's group is not even visible
    assert sid == "0", r.stdout    # the session is the caller's (outside the jail's pid namespace)


@pytest.mark.parametrize("user", [None, NOBODY], ids=["own-user", "ordinary-user"])
def test_kill_zero_from_a_jail_spares_the_caller_and_another_jail(tmp_path, user):
    # With new_session = false the jail shares the caller's session; kill(0, SIGKILL) used to
    # reach the whole group: agentjail, the calling shell and any other jail started from it.
    prefix = as_user_prefix(user, user) if user is not None else []
    aj = agentjail_for(user)
    policy = shared_session_policy(tmp_path)
    # Landlock ABI 6 scopes signals to the jail as well: without it (Linux < 6.12, the 6.1 VM)
    # the process group is the only fence, and that is what this tests.
    script = textwrap.dedent(f"""
        {aj} run -p {policy} --landlock-max-abi 0 -- /bin/sh -c 'sleep 2; echo OTHER-DONE' &
        other=$!
        {aj} run -p {policy} --landlock-max-abi 0 -- /bin/sh -c 'kill -KILL 0; echo NOT-REACHED'
        echo "FIRST=$?"
        wait $other
        echo "OTHER=$?"
        echo SHELL-SURVIVED
    """)
    proc = subprocess.run(prefix + ["/bin/sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert "SHELL-SURVIVED" in proc.stdout, proc
    assert "FIRST=137" in proc.stdout, proc  # the jailed command's own group was killed
    assert "NOT-REACHED" not in proc.stdout, proc
    assert "OTHER-DONE" in proc.stdout and "OTHER=0" in proc.stdout, proc


# --- standard streams the jail can reopen ----------------------------------------------

REOPEN = {
    "sh-stderr": ("/bin/sh", "-c", "echo x > /dev/stderr; echo y > /dev/stdout; echo z > /proc/self/fd/2"),
    "python-stdout": ("python3", "-c", "open('/dev/stdout', 'w').write('x\\n'); open('/dev/stderr', 'w').write('y\\n')"),
}


@pytest.mark.parametrize("user", [None, NOBODY], ids=["own-user", "ordinary-user"])
@pytest.mark.parametrize("json_mode", [False, True], ids=["pass-through", "capture"])
@pytest.mark.parametrize("name", sorted(REOPEN))
def test_standard_streams_can_be_reopened(name, json_mode, user):
    if user is not None:
        as_user_prefix(user, user)
    r = run(*REOPEN[name], policy="python", json_mode=json_mode, user=user)
    assert r.code == 0, r
    out = r.report["stdout"] if json_mode else r.stdout
    err = r.report["stderr"] if json_mode else r.stderr
    if name == "sh-stderr":
        assert out == "y\n" and err == "x\nz\n", (out, err)
    else:
        assert out == "x\n" and err == "y\n", (out, err)


@pytest.mark.parametrize("user", [None, NOBODY], ids=["own-user", "ordinary-user"])
@pytest.mark.parametrize("json_mode", [False, True], ids=["pass-through", "capture"])
def test_stdin_can_be_reopened(json_mode, user):
    if user is not None:
        as_user_prefix(user, user)
    r = run("/bin/sh", "-c", "cat /proc/self/fd/0; echo; cat /dev/stdin", policy="shell", json_mode=json_mode,
            user=user, input="hello from the caller")
    assert r.code == 0, r
    out = r.report["stdout"] if json_mode else r.stdout
    assert out == "hello from the caller\n", out


@requires_root
def test_one_file_on_stdout_and_stderr_keeps_the_order_of_both(tmp_path):
    # Run by root the file is relayed (the jail's uid may not reopen it): one relay for both.
    # A file the jail's uid owns is passed as it is, and `> /dev/stderr` then truncates it,
    # as it does on the host.
    os.chmod(tmp_path, 0o755)
    target = tmp_path / "out.txt"
    script = "for i in 1 2 3; do echo out$i; echo err$i > /dev/stderr; done"
    with open(target, "w") as f:
        os.fchmod(f.fileno(), 0o600)  # the caller's alone: the jail's uid cannot reopen it
        proc = subprocess.run([agentjail_for(), "run", "-p", "shell", "--", "/bin/sh", "-c", script],
                              stdout=f, stderr=f, timeout=60)
    assert proc.returncode == 0
    assert target.read_text() == "out1\nerr1\nout2\nerr2\nout3\nerr3\n"


def test_a_relayed_stream_passes_large_output_whole():
    r = run("/bin/sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a; echo end > /dev/stderr", policy="shell")
    assert r.code == 0, r
    assert len(r.stdout) == 3000000 and set(r.stdout) == {"a"}, len(r.stdout)
    assert r.stderr.endswith("end\n"), r.stderr[-200:]


@requires_root
def test_capture_pipes_belong_to_the_jails_host_uid():
    r = run("/bin/sh", "-c", "stat -L -c '%u %g %a' /proc/self/fd/1 /proc/self/fd/2", policy="shell",
            json_mode=True)
    assert r.code == 0, r
    lines = r.report["stdout"].split("\n")
    # Inside the jail the host uid shows as the jail's own user: the pipes are its own.
    assert lines[0] == lines[1] == "65534 65534 600", r.report["stdout"]


@requires_root
@pytest.mark.parametrize("produced", ["100000", "3000000"], ids=["command-exits", "command-times-out"])
def test_a_caller_that_never_reads_a_relayed_stream_does_not_hold_agentjail(produced):
    # 100 kB fit in the pipes, so the command exits and its output waits for the caller's
    # reader: the wall limit bounds the wait. 3 MB do not: the command blocks until the wall
    # limit kills it, and what it wrote gets a short grace.
    proc = subprocess.Popen([agentjail_for(), "run", "-p", "shell", "--time", "1s", "--", "/bin/sh", "-c",
                             f"head -c {produced} /dev/zero"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        code = proc.wait(timeout=30)  # never read: a hang would be a timeout here
    finally:
        proc.kill()
        proc.stdout.close()
    assert code in (0, 124), code


# --- an ordinary caller's subordinate ids ----------------------------------------------

SUB_UIDS, SUB_GIDS = 1900000000, 1910000000


def as_nobody_with_subids(command):
    """Runs `command` (a shell string) as uid 65534 in a private mount namespace where
    /etc/subuid and /etc/subgid grant nobody 65536 ids each; the host's files stay as they are."""
    if not is_root():
        pytest.skip("needs root to grant subordinate ids in a private mount namespace")
    if not (os.access("/usr/bin/newuidmap", os.X_OK) and os.access("/usr/bin/newgidmap", os.X_OK)):
        pytest.skip("newuidmap and newgidmap (the uidmap package) are not installed")
    directory = tempfile.mkdtemp(prefix="aj-subid-", dir="/tmp")
    atexit.register(shutil.rmtree, directory, True)
    os.chmod(directory, 0o755)
    for name, first in (("subuid", SUB_UIDS), ("subgid", SUB_GIDS)):
        with open(os.path.join(directory, name), "w") as f:
            f.write(f"nobody:{first}:65536\n")
        os.chmod(os.path.join(directory, name), 0o644)
    # Not as_user_prefix(): newuidmap must be able to gain its privileges (a full bounding set).
    nobody = f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups --inh-caps=-all"
    script = (f"mount --bind {directory}/subuid /etc/subuid && mount --bind {directory}/subgid /etc/subgid && "
              f"exec {nobody} /bin/sh -c '{command}'")
    return subprocess.run(["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script],
                          capture_output=True, text=True, timeout=60)


def test_an_ordinary_caller_with_subordinate_ids_gets_one_of_them():
    aj = agentjail_for(NOBODY)
    proc = as_nobody_with_subids(
        f"{aj} run -p shell -- /bin/sh -c \"cat /proc/self/uid_map /proc/self/gid_map; echo x > /dev/stderr; "
        f"echo y > /dev/stdout\"")
    assert proc.returncode == 0, proc
    uid_line, gid_line, reopened = proc.stdout.split("\n")[:3]
    inside, outside, count = map(int, uid_line.split())
    assert inside == NOBODY and count == 1 and SUB_UIDS <= outside < SUB_UIDS + 65536, proc.stdout
    inside, gid_outside, count = map(int, gid_line.split())
    assert gid_outside - SUB_GIDS == outside - SUB_UIDS, proc.stdout  # the uid and gid go together
    assert reopened == "y" and proc.stderr == "x\n", proc


def test_subordinate_ids_capture_pipes_can_be_reopened_and_doctor_says_so():
    aj = agentjail_for(NOBODY)
    proc = as_nobody_with_subids(
        f"{aj} run --json -p shell -- /bin/sh -c \"echo x > /dev/stderr; echo y > /proc/self/fd/1\"; "
        f"{aj} doctor --json")
    assert proc.returncode in (0, 1), proc
    decoder = json.JSONDecoder()
    report, end = decoder.raw_decode(proc.stdout)
    doctor = json.loads(proc.stdout[end:])
    assert report["status"] == "ok" and report["stdout"] == "y\n" and report["stderr"] == "x\n", report
    assert not any(w.startswith("host ids:") for w in report["warnings"]), report["warnings"]
    assert doctor["host_ids"]["source"] == "subordinate" and doctor["host_ids"]["shared"] is False, doctor["host_ids"]
    assert doctor["host_ids"]["subuid"] == [f"{SUB_UIDS}-{SUB_UIDS + 65535}"], doctor["host_ids"]


def test_subordinate_ids_give_way_to_the_callers_own_for_a_read_write_bind(workdir):
    aj = agentjail_for(NOBODY)
    proc = as_nobody_with_subids(
        f"{aj} run --json -p shell --rw {workdir}:/w -- /bin/sh -c \"cat /proc/self/uid_map; echo hi > /w/made\"")
    assert proc.returncode == 0, proc
    report = json.loads(proc.stdout)
    assert report["stdout"].split()[1] == str(NOBODY), report["stdout"]
    assert any(w.startswith("host ids:") and "read-write bind" in w for w in report["warnings"]), report["warnings"]
    assert os.stat(os.path.join(workdir, "made")).st_uid == NOBODY



def test_with_subordinate_ids_fds_in_flight_in_one_jail_do_not_stop_another():
    # The caller's other jails no longer share its per-user budgets (the caller itself, owner
    # of every jail's user namespace, can still signal them: the kernel lets a namespace's
    # owner do that, for podman's containers too).
    aj = agentjail_for(NOBODY)
    holder = staged_file_text("inflight.py", INFLIGHT)
    proc = as_nobody_with_subids(
        f"{aj} run -p python --ro {holder}:/inflight.py -- python3 /inflight.py > /tmp/aj-inflight-$$ & "
        "for i in $(seq 100); do grep -q READY /tmp/aj-inflight-$$ 2>/dev/null && break; sleep 0.1; done; "
        "cat /tmp/aj-inflight-$$; "
        f"{aj} run -p shell -- /bin/sh -c \"echo STARTED\"; echo second=$?; kill -TERM $!; wait; rm -f /tmp/aj-inflight-$$")
    assert "READY" in proc.stdout and "ETOOMANYREFS" in proc.stdout, proc
    assert "STARTED" in proc.stdout and "second=0" in proc.stdout, proc
