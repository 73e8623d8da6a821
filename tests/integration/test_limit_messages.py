"""Pass-through mode: a run that a limit ended says so on stderr in one `agentjail:` line that
names the limit, its value and the option that raises it; -q and --json say nothing there
(the report's status says it). agentjail(1), WORKSPACES and OUTPUT MODES."""
import pytest

from conftest import is_root, run

NOBODY = 65534
USERS = [None, NOBODY] if is_root() else [None]

CASES = {
    # status: (options, command, the line)
    "timeout": (["--time", "1s"], ["sleep", "10"],
                "agentjail: wall time limit reached, the command was ended: limits.wall_time = 1s (raise it with --time)"),
    "cpu_limit": (["--cpu-time", "1s"], ["sh", "-c", "while :; do :; done"],
                  "agentjail: CPU time limit reached, the command was ended: limits.cpu_time = 1s "
                  "(raise it with --cpu-time)"),
    "memory_limit": (["--memory", "32MiB"], ["/usr/bin/python3", "-c", "x = bytearray(200 << 20); x[::4096] = b'x' * len(x[::4096])"],
                     "agentjail: memory limit reached, the command was ended: limits.memory = 32MiB "
                     "(raise it with --memory)"),
    "pids_limit": (["--pids", "4"], ["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait"],
                   "agentjail: pids limit reached, a new process was refused: limits.pids = 4 (raise it with --pids)"),
}


def limit_lines(stderr):
    return [line for line in stderr.splitlines() if "limit reached" in line]


@pytest.mark.parametrize("user", USERS, ids=lambda u: "own-user" if u is None else "ordinary-user")
@pytest.mark.parametrize("status", list(CASES))
def test_the_limit_that_ended_a_run_is_named_once(status, user):
    options, command, line = CASES[status]
    r = run(*command, options=["-p", "shell", *options], user=user, timeout=60)
    assert r.report is not None, r.proc.stderr
    if r.report["status"] != status and status in ("memory_limit", "pids_limit"):
        # Without a cgroup for this user the limit is an rlimit: the command sees a failed
        # allocation or fork, and nothing ended the run.
        assert r.report["status"] in ("exit", "ok", "signal"), r.report
        assert limit_lines(r.proc.stderr) == []
        pytest.skip(f"{status} is not a cgroup verdict for uid {user} here (an rlimit instead, see the warnings)")
    if status == "cpu_limit" and r.report["status"] == "signal":
        # Known and open: on a loaded host RLIMIT_CPU (per process) can fire before the cgroup
        # has counted the whole limit, and the verdict then falls to `signal`.
        pytest.xfail(f"cpu_time classified as signal: cgroup counted {r.report['cpu']}")
    assert r.report["status"] == status, r.report
    assert limit_lines(r.proc.stderr) == [line], r.proc.stderr


@pytest.mark.parametrize("mode", ["-q", "--json"])
def test_quiet_and_json_runs_print_no_limit_line(mode):
    r = run("sleep", "10", options=["-p", "shell", "--time", "1s", mode], json_mode=mode == "--json", timeout=60)
    assert r.report is not None and r.report["status"] == "timeout", r.proc.stderr
    assert limit_lines(r.proc.stderr) == []


def test_a_run_no_limit_ended_prints_no_limit_line():
    r = run("sh", "-c", "exit 3", options=["-p", "shell", "--time", "5s"])
    assert r.report["status"] == "exit" and r.report["exit_code"] == 3
    assert limit_lines(r.proc.stderr) == []
