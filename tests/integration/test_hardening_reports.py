"""Attacks on agentjail's own files and on its report: the jail (or an earlier jail) plants
symlinks, FIFOs and hard links at the paths agentjail writes, feeds it bytes that are not UTF-8,
and signals it early. Each test fails on a build without the matching fix (agentjail(1), REPORT
FILES and SIGNALS)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import AGENTJAIL, requires_userns

pytestmark = requires_userns


@pytest.fixture
def tmp():
    path = os.path.realpath(tempfile.mkdtemp(prefix="aj-harden-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def jail(*args, options=(), json_mode=False, timeout=60):
    argv = [AGENTJAIL, "run", "-p", "shell", *options] + (["--json"] if json_mode else []) + ["--", *args]
    return subprocess.run(argv, capture_output=True, timeout=timeout)


def workspace(tmp):
    ws = os.path.join(tmp, "ws")
    victim = os.path.join(tmp, "victim")
    os.makedirs(os.path.join(ws, "out"))
    os.makedirs(victim)
    os.chmod(ws, 0o777)
    os.chmod(os.path.join(ws, "out"), 0o777)
    return ws, victim


@pytest.mark.parametrize("flag", ["--report", "--audit-log"])
def test_a_parent_replaced_by_a_symlink_during_the_run_redirects_nothing(tmp, flag):
    ws, victim = workspace(tmp)
    target = os.path.join(ws, "out", "file.json")
    r = jail("/bin/sh", "-c", f"rm -rf /ws/out && ln -s {victim} /ws/out && echo swapped",
             options=["--rw", f"{ws}:/ws", flag, target])
    assert b"swapped" in r.stdout, r
    assert os.listdir(victim) == [], "agentjail wrote through the symlink the jail planted"
    assert r.returncode == 0, r


@pytest.mark.parametrize("flag", ["--report", "--audit-log"])
def test_a_symlink_planted_by_an_earlier_jail_is_refused_before_the_command_runs(tmp, flag):
    ws, victim = workspace(tmp)
    shutil.rmtree(os.path.join(ws, "out"))
    os.symlink(victim, os.path.join(ws, "out"))  # what an earlier jail left behind
    marker = os.path.join(ws, "ran")
    r = jail("/bin/sh", "-c", "touch /ws/ran", options=["--rw", f"{ws}:/ws", flag, os.path.join(ws, "out", "f.json")])
    assert r.returncode == 125, r
    assert b"symlink" in r.stderr, r
    assert not os.path.exists(marker), "the command ran although its report could not be written"
    assert os.listdir(victim) == []


def test_a_hard_link_at_the_report_path_is_not_truncated(tmp):
    ws, victim = workspace(tmp)
    precious = os.path.join(victim, "precious")
    with open(precious, "w") as f:
        f.write("keep me")
    os.link(precious, os.path.join(ws, "out", "report.json"))
    r = jail("/bin/true", options=["--report", os.path.join(ws, "out", "report.json")])
    assert r.returncode == 125, r
    with open(precious) as f:
        assert f.read() == "keep me"


@pytest.mark.parametrize("flag", ["--report", "--audit-log"])
def test_a_fifo_at_the_path_fails_at_once_instead_of_hanging(tmp, flag):
    ws, _ = workspace(tmp)
    fifo = os.path.join(ws, "out", "f.json")
    os.mkfifo(fifo)
    r = jail("/bin/true", options=[flag, fifo], timeout=30)  # before the fix: hangs forever
    assert r.returncode == 125, r


def test_a_fifo_the_jail_plants_during_the_run_does_not_hang_agentjail(tmp):
    ws, _ = workspace(tmp)
    target = os.path.join(ws, "out", "report.json")
    r = jail("/bin/sh", "-c", "rm -f /ws/out/report.json && mkfifo /ws/out/report.json && echo planted",
             options=["--rw", f"{ws}:/ws", "--report", target], timeout=30)
    assert b"planted" in r.stdout, r
    assert r.returncode == 0, r


def test_a_report_into_a_missing_directory_is_125_before_the_command_runs(tmp):
    marker = os.path.join(tmp, "ran")
    os.chmod(tmp, 0o777)  # the jail's user may create the marker
    r = jail("/bin/sh", "-c", "touch /t/ran", options=["--rw", f"{tmp}:/t", "--report", os.path.join(tmp, "no", "r.json")])
    assert r.returncode == 125, r
    assert not os.path.exists(marker)
    assert b"agentjail:" in r.stderr


def test_the_report_file_holds_the_report(tmp):
    path = os.path.join(tmp, "r.json")
    with open(path, "w") as f:
        f.write("x" * 100000)  # a longer old file: no tail of it may remain
    r = jail("/bin/sh", "-c", "exit 3", options=["--report", path])
    assert r.returncode == 3, r
    with open(path) as f:
        assert json.load(f)["exit_code"] == 3


def test_arguments_that_are_not_utf8_give_one_valid_report(tmp):
    path = os.path.join(tmp, "r.json")
    r = jail(b"/bin/echo", b"caf\xe9\xff", options=["--report", path], json_mode=True)
    assert r.returncode == 0, r
    report = json.loads(r.stdout)  # one document, valid UTF-8
    assert report["command"][1] == "caf\ufffd\ufffd"
    with open(path, "rb") as f:
        assert json.loads(f.read().decode("utf-8"))["command"][1] == "caf\ufffd\ufffd"


def sigterm_blocked(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigBlk:"):
                    return int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)) != 0
    except FileNotFoundError:
        pass
    return False


def test_a_sigterm_as_soon_as_the_signals_are_taken_over_still_gives_a_report():
    # The signals are blocked by the first code of agentjail's own (before option parsing);
    # a SIGTERM from then on ends the jail with a report.
    failures = []
    for attempt in range(20):
        proc = subprocess.Popen([AGENTJAIL, "run", "-p", "shell", "--json", "--", "/bin/sleep", "30"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not sigterm_blocked(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
            pass
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        try:
            report = json.loads(out)
            assert report["status"] == "signal", report
        except (ValueError, AssertionError):
            failures.append((attempt, proc.returncode, out[-300:], err[-300:]))
    assert not failures, failures


def test_a_reader_that_never_reads_the_report_cannot_make_agentjail_outlive_sigterm(tmp):
    # Before the fix the signals stayed blocked while the report was written: with a stdout
    # pipe nobody reads, agentjail sat in write() and only SIGKILL ended it.
    report_file = os.path.join(tmp, "report.json")
    read_end, write_end = os.pipe()  # 64 KiB that fill up, and no reader
    try:
        proc = subprocess.Popen([AGENTJAIL, "run", "-p", "shell", "--json", "--report", report_file, "--",
                                 "/bin/sh", "-c", "head -c 900000 /dev/zero"], stdout=write_end,
                                stderr=subprocess.DEVNULL)
        os.close(write_end)
        deadline = time.monotonic() + 60
        report = None
        while report is None and time.monotonic() < deadline:  # the file is written before stdout
            try:
                with open(report_file) as f:
                    report = json.load(f)
            except (FileNotFoundError, ValueError):
                time.sleep(0.05)
        assert report is not None and report["status"] == "ok", report
        assert proc.poll() is None  # blocked on the pipe
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("agentjail outlived SIGTERM while its report waited on a stalled stdout")
        assert code == -signal.SIGTERM, code
    finally:
        os.close(read_end)


@pytest.mark.parametrize("bind", ["/proc:/hostproc", "/proc", "/sys:/s", "/dev:/d"])
def test_binds_of_the_host_kernel_filesystems_are_refused(bind):
    # Before the fix `--ro /proc` replaced the jail's masked procfs with the host's.
    r = jail("/bin/sh", "-c", "echo ran", options=["--ro", bind])
    assert r.returncode == 125, r
    assert b"ran" not in r.stdout
    assert b"unsafe_host_kernel_fs" in r.stderr, r


def test_a_symlink_leading_to_proc_is_refused_on_the_opened_source(tmp):
    link = os.path.join(tmp, "innocent")
    os.symlink("/proc", link)  # what an earlier jail could leave in a workspace
    r = jail("/bin/sh", "-c", "ls /x/1 && echo ran", options=["--ro", f"{link}:/x"])
    assert r.returncode == 125, r
    assert b"ran" not in r.stdout


def test_the_opt_in_binds_and_warns_in_the_report(tmp):
    policy = os.path.join(tmp, "p.toml")
    with open(policy, "w") as f:
        f.write('version = 1\nname = "t"\nextends = "shell"\n\n[[filesystem.mount]]\ntype = "bind"\n'
                'source = "/sys/kernel"\ntarget = "/hostkernel"\nunsafe_host_kernel_fs = true\n')
    r = subprocess.run([AGENTJAIL, "run", "-p", policy, "--json", "--", "/bin/sh", "-c", "test -d /hostkernel && echo ran"],
                       capture_output=True, timeout=60)
    report = json.loads(r.stdout)
    assert report["stdout"] == "ran\n", r
    assert any("unsafe_host_kernel_fs" in w for w in report["warnings"]), report["warnings"]


def test_a_self_raised_sigxcpu_is_not_a_cpu_limit():
    # Before the fix: status cpu_limit, exit 124, after 4 ms of CPU.
    r = jail("/bin/sh", "-c", "kill -XCPU $$", options=["--cpu-time", "30s"], json_mode=True)
    report = json.loads(r.stdout)
    assert report["status"] == "signal", report
    assert r.returncode == 128 + signal.SIGXCPU, r


def test_with_a_socket_as_stdin_and_stdout_the_jail_cannot_forge_a_report():
    import socket
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen([AGENTJAIL, "run", "-p", "shell", "--json", "--", "/bin/sh", "-c",
                                 'echo \'{"status":"ok","forged":true}\' >&0; echo inside'],
                                stdin=theirs, stdout=theirs, stderr=subprocess.PIPE)
        theirs.close()
        proc.wait(timeout=60)
        ours.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := ours.recv(65536):
            data += chunk
    finally:
        ours.close()
    report = json.loads(data)  # exactly one document: nothing written around the capture
    assert "forged" not in report
    assert report["stdout"] == "inside\n", report


def test_a_self_raised_sigsys_under_kill_is_not_a_seccomp_verdict(tmp):
    policy = os.path.join(tmp, "p.toml")
    with open(policy, "w") as f:
        f.write('version = 1\nname = "t"\nextends = "shell"\n\n[seccomp]\ndefault_action = "kill"\n')
    r = subprocess.run([AGENTJAIL, "run", "-p", policy, "--json", "--", "/bin/sh", "-c", "kill -SYS $$"],
                       capture_output=True, timeout=60)
    report = json.loads(r.stdout)
    # Every kernel agentjail targets has seccomp user notification; without it a kernel kill
    # leaves only the SIGSYS to go by (agentjail(1), THE REPORT).
    assert report["status"] == "signal", report
