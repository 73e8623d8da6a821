"""SPEC §2, §4, §5: exit codes, statuses and every report field, in both output modes."""
import json
import os
import re
import subprocess
import textwrap

import pytest

from conftest import AGENTJAIL, measures_own_memory, requires_userns, run

pytestmark = requires_userns

REPORT_KEYS = {"schema", "agentjail", "id", "policy", "command", "status", "exit_code", "signal",
               "started_at", "wall_time_ms", "cpu", "memory", "pids", "limits", "enforcement",
               "violations", "warnings", "error"}
CAPTURE_KEYS = {"stdout", "stderr", "stdout_bytes", "stderr_bytes", "stdout_truncated", "stderr_truncated"}


def check_report_shape(report):
    assert REPORT_KEYS <= set(report), REPORT_KEYS - set(report)
    assert report["schema"] == 1
    assert set(report["policy"]) == {"name", "source", "sha256"}
    assert set(report["cpu"]) == {"user_ms", "system_ms"}
    assert set(report["memory"]) == {"peak_bytes", "source"}
    assert set(report["limits"]) == {"wall_time_ms", "cpu_time_ms", "memory_bytes", "pids"}
    assert set(report["enforcement"]) == {"userns", "cgroup", "seccomp", "landlock"}
    landlock = report["enforcement"]["landlock"]
    assert landlock is False or set(landlock) == {"abi_kernel", "abi_used", "not_enforced"}
    assert report["status"] in {"ok", "exit", "signal", "timeout", "cpu_limit", "memory_limit", "pids_limit",
                                "seccomp", "setup_error"}
    assert report["started_at"].endswith("Z")


def test_exit_zero_is_ok():
    r = run("/bin/true", policy="shell")
    assert r.code == 0, r
    check_report_shape(r.report)
    assert r.report["status"] == "ok" and r.report["exit_code"] == 0 and r.report["signal"] is None
    assert r.report["policy"]["name"] == "shell" and r.report["policy"]["source"] == "builtin:shell"
    assert len(r.report["policy"]["sha256"]) == 64
    assert r.report["command"] == ["/bin/true"]
    assert r.report["enforcement"]["userns"] is True and r.report["enforcement"]["seccomp"] is True


def test_exit_three():
    r = run("/bin/sh", "-c", "exit 3", policy="shell")
    assert r.code == 3, r
    assert r.report["status"] == "exit" and r.report["exit_code"] == 3


@pytest.mark.parametrize("code", [124, 125, 126, 127])
def test_command_may_exit_with_agentjails_own_codes(code):
    r = run("/bin/sh", "-c", f"exit {code}", policy="shell")
    assert r.code == code
    assert r.report["status"] == "exit" and r.report["exit_code"] == code


def test_sigsegv():
    r = run("python3", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", policy="python")
    assert r.code == 128 + 11, r
    assert r.report["status"] == "signal" and r.report["signal"] == "SIGSEGV" and r.report["exit_code"] is None


def test_wall_time_limit():
    r = run("/bin/sleep", "30", policy="shell", options=["--time", "500ms"])
    assert r.code == 124, r
    assert r.report["status"] == "timeout"
    assert 400 <= r.report["wall_time_ms"] < 5000, r.report
    assert r.report["limits"]["wall_time_ms"] == 500


def test_not_found():
    r = run("no-such-command-anywhere", policy="shell")
    assert r.code == 127, r
    assert r.report["exit_code"] == 127 and r.report["error"], r.report
    # Pass-through mode says it in one line, as a shell would.
    assert r.stderr == "agentjail: no-such-command-anywhere: command not found\n", r.stderr


def test_not_executable(workdir):
    path = os.path.join(workdir, "script")
    with open(path, "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(path, 0o644)
    r = run("/data/script", policy="shell", options=["--ro", f"{workdir}:/data"])
    assert r.code == 126, r
    assert r.report["exit_code"] == 126
    assert r.stderr == "agentjail: /data/script: Permission denied\n", r.stderr


def test_json_mode_captures_both_streams():
    r = run("/bin/sh", "-c", "echo out; echo err >&2; exit 5", policy="shell", json_mode=True)
    assert r.code == 5, r
    check_report_shape(r.report)
    assert CAPTURE_KEYS <= set(r.report)
    assert r.report["stdout"] == "out\n" and r.report["stderr"] == "err\n"
    assert r.report["stdout_bytes"] == 4 and not r.report["stdout_truncated"]


def test_json_mode_replaces_invalid_utf8():
    r = run("python3", "-c", "import sys; sys.stdout.buffer.write(b'ok\\xff\\xfe!')", policy="python", json_mode=True)
    assert r.report["stdout"] == "ok\ufffd\ufffd!", r.report


def test_json_mode_setup_error_still_reports():
    r = run("/bin/true", policy="/nonexistent/policy.toml", json_mode=True)
    assert r.code == 125, r
    assert r.report["status"] == "setup_error" and r.report["error"], r.report
    check_report_shape(r.report)


def test_json_mode_keeps_a_callers_terminal_out_of_the_jail():
    # With --json the caller reads one JSON document: a terminal on stdin would let the jail
    # read keystrokes and change its settings. A terminal becomes /dev/null; a pipe stays.
    controller, terminal = os.openpty()
    try:
        proc = subprocess.run([AGENTJAIL, "run", "--json", "-p", "shell", "--", "/bin/sh", "-c",
                               "readlink /proc/self/fd/0; if stty -a >/dev/null 2>&1; then echo TTY; fi"],
                              stdin=terminal, capture_output=True, text=True, timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    report = json.loads(proc.stdout)
    assert report["status"] == "ok", report
    assert report["stdout"].splitlines() == ["/dev/null"], report["stdout"]
    r = run("/bin/cat", policy="shell", json_mode=True, input="piped in\n")
    assert r.report["stdout"] == "piped in\n", r.report


def test_every_policy_error_is_in_the_report_and_on_stderr(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("version = 1\n[limits]\nmemroy = 1\n[process]\nusr = 1\n")
    r = run("/bin/true", policy=str(path), json_mode=True)
    assert r.code == 125 and r.report["status"] == "setup_error", r
    errors = r.report["error"].splitlines()
    assert len(errors) == 2 and "memroy" in errors[0] and "usr" in errors[1], errors
    assert [line for line in r.stderr.splitlines() if line.startswith("agentjail: ")] == \
        ["agentjail: " + e for e in errors], r.stderr


def test_passthrough_prints_nothing_of_its_own():
    proc = subprocess.run([AGENTJAIL, "run", "-p", "shell", "--", "/bin/echo", "hello"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout == "hello\n" and proc.stderr == ""


@measures_own_memory
def test_one_gibibyte_flood_is_counted_not_buffered(tmp_path):
    """1 GiB through --json: kept up to limits.output, the rest counted; agentjail stays small."""
    argv = ["/usr/bin/time", "-f", "%M", AGENTJAIL, "run", "-p", "shell", "--json", "--time", "120s",
            "--", "/bin/sh", "-c", "head -c 1073741824 /dev/zero"]
    proc = subprocess.run(argv, capture_output=True, timeout=300)
    report = json.loads(proc.stdout)
    assert report["status"] == "ok", report
    assert report["stdout_bytes"] == 1 << 30
    assert report["stdout_truncated"] is True
    assert len(report["stdout"]) == 1 << 20
    max_rss_kib = int(proc.stderr.decode().strip().splitlines()[-1])
    assert max_rss_kib < 32 * 1024, f"agentjail used {max_rss_kib} KiB while capturing"


def test_bad_flag_is_one_line_and_125():
    proc = subprocess.run([AGENTJAIL, "run", "--memroy", "1G", "--", "true"], capture_output=True, text=True)
    assert proc.returncode == 125
    assert proc.stderr.startswith("agentjail: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "--memroy" in proc.stderr, proc.stderr  # the line is about the mistake


def test_missing_separator_is_an_error():
    proc = subprocess.run([AGENTJAIL, "run", "-p", "shell", "true"], capture_output=True, text=True)
    assert proc.returncode == 125
    assert "--" in proc.stderr and proc.stderr.startswith("agentjail: ")


def test_report_file_in_passthrough_mode(tmp_path):
    path = tmp_path / "r.json"
    proc = subprocess.run([AGENTJAIL, "run", "-p", "shell", "--report", str(path), "--", "/bin/echo", "x"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "x\n"
    report = json.loads(path.read_text())
    assert report["status"] == "ok"
    check_report_shape(report)


def test_verbose_logs_each_step_and_stage():
    proc = subprocess.run([AGENTJAIL, "run", "-v", "-p", "shell", "--", "/bin/true"], capture_output=True, text=True)
    assert proc.returncode == 0
    for step in ("build-root", "pivot-root", "drop-capabilities", "seccomp"):
        assert f"step {step}:" in proc.stderr, proc.stderr
    for stage in ("load-policy", "probe-host", "plan", "seccomp-filter", "clone-jail", "supervise", "read-usage"):
        assert re.search(rf"^agentjail: stage {stage}: \d+\.\d{{3}} ms$", proc.stderr, re.M), proc.stderr


def test_builtin_interpreters_run():
    assert run("python3", "-c", "print(6*7)", policy="python").stdout == "42\n"
    assert run("node", "-e", "console.log(6*7)", policy="node").stdout == "42\n"
    assert run("bash", "-c", "echo $((6*7))", policy="shell").stdout == "42\n"


def test_ci_policy_builds_a_c_program(workdir):
    with open(os.path.join(workdir, "hello.c"), "w") as f:
        f.write('#include <stdio.h>\nint main(void) { puts("built and ran"); return 0; }\n')
    with open(os.path.join(workdir, "Makefile"), "w") as f:
        f.write("hello: hello.c\n\tcc -O2 -o hello hello.c\n")
    r = run("/bin/sh", "-c", "make && ./hello", policy="ci", options=["--rw", f"{workdir}:/work"], timeout=300)
    assert r.code == 0, r
    assert "built and ran" in r.stdout
    assert os.path.exists(os.path.join(workdir, "hello"))


@pytest.mark.parametrize("argv, message", [
    (["bogus"], 'unknown command "bogus"'),
    (["run", "--bogus", "--", "/bin/true"], 'unknown option "--bogus"'),
    (["-p", "python", "run", "--", "/bin/true"], 'goes after its name: agentjail run -p python -- ...'),
    (["check", "python"], "a policy is given with -p (agentjail check -p python)"),
    (["run", "--memory", "512", "--", "/bin/true"], 'a bare number is bytes (did you mean "512MiB"?)'),
    (["run", "--pids", "0", "--", "/bin/true"], '--pids: "0" is not a number of processes'),
])
def test_command_line_mistakes_get_one_clear_line(argv, message):
    proc = subprocess.run([AGENTJAIL, *argv], capture_output=True, text=True)
    assert proc.returncode == 125, proc
    assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("agentjail: ") and message in proc.stderr, proc.stderr


def test_check_help_ends_with_its_own_exit_status():
    proc = subprocess.run([AGENTJAIL, "check", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc
    assert "Exit status: 0 when the policy is valid" in proc.stdout, proc.stdout
    assert "Exit codes of run" not in proc.stdout, proc.stdout
