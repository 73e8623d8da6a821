"""The jail's own setup failures say what went wrong and how to fix it, in one line, exit 125."""
import subprocess

from conftest import AGENTJAIL


def run(*args, policy_text=None, tmp_path=None):
    argv = [AGENTJAIL, "run"]
    if policy_text is not None:
        path = tmp_path / "p.toml"
        path.write_text(policy_text)
        argv += ["-p", str(path)]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=60)


def one_line(r):
    lines = [line for line in r.stderr.splitlines() if line.startswith("agentjail:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_target_inside_a_read_only_mount_names_the_mount_and_the_ways_out():
    r = run("--rw", "/tmp:/usr/agentjail-data", "--", "/bin/true")
    assert r.returncode == 125
    line = one_line(r)
    assert "from --rw" in line and "read-only mount /usr" in line and "tmpfs" in line, line


def test_missing_cwd_names_the_key():
    r = run("--cwd", "/nope", "--", "/bin/true")
    assert r.returncode == 125
    line = one_line(r)
    assert "/nope" in line and "process.cwd" in line and "No such file or directory" in line, line


def test_empty_command_name_is_a_usage_error():
    r = run("--", "")
    assert r.returncode == 125
    line = one_line(r)
    assert "command's name is empty" in line, line


def test_missing_bind_source_points_at_its_origin_and_optional(tmp_path):
    r = run("--ro", "/nonexistent-agentjail-src:/x", "--", "/bin/true")
    assert r.returncode == 125
    line = one_line(r)
    assert "/nonexistent-agentjail-src" in line and "from --ro" in line and "optional = true" in line, line

    policy = ('version = 1\nextends = "default"\n\n[[filesystem.mount]]\ntype = "bind"\n'
              'source = "/nonexistent-agentjail-src"\ntarget = "/x"\n')
    r = run("--", "/bin/true", policy_text=policy, tmp_path=tmp_path)
    assert r.returncode == 125
    line = one_line(r)
    assert "p.toml:4:1" in line and "optional = true" in line, line
    # The positive control: the same mount marked optional runs.
    r = run("--", "/bin/true", policy_text=policy + "optional = true\n", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr


def test_one_pid_names_the_limit():
    r = run("--pids", "1", "--", "/bin/true")
    assert r.returncode == 125
    line = one_line(r)
    assert "limits.pids" in line, line
