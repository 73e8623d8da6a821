"""The audit log (--audit-log and the policy key audit_log): one JSON line per run, appended
with O_APPEND in one write so that concurrent runs never interleave; the report without the
captured output, plus the caller's uid; never an environment value."""
import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import AGENTJAIL, SOURCE_DIR, requires_userns

pytestmark = requires_userns

CAPTURE_FIELDS = {"stdout", "stderr", "stdout_bytes", "stderr_bytes", "stdout_truncated", "stderr_truncated"}
SECRET = "s3cr3t-value-that-must-not-be-logged"


@pytest.fixture
def logdir():
    path = tempfile.mkdtemp(prefix="aj-audit-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def jail(*args, options=(), json_mode=True, env=None):
    argv = [AGENTJAIL, "run", "-p", "shell", *options] + (["--json"] if json_mode else []) + ["--", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)


def records(path):
    with open(path) as f:
        lines = f.read().split("\n")
    assert lines[-1] == "", "the log must end with a newline"
    return [json.loads(line) for line in lines[:-1]]


def test_run_has_the_audit_log_option():
    help_text = subprocess.run([AGENTJAIL, "run", "--help"], capture_output=True, text=True).stdout
    assert "--audit-log" in help_text


def test_one_line_per_run_with_caller_and_without_output(logdir):
    log = os.path.join(logdir, "audit.log")
    first = jail("/bin/sh", "-c", 'echo "$0"; echo "$0" >&2', SECRET, options=["--audit-log", log])
    assert first.returncode == 0, first
    assert SECRET in first.stdout  # the caller still gets the output ...
    jail("/bin/sh", "-c", "exit 7", options=["--audit-log", log], json_mode=False)
    lines = records(log)
    assert len(lines) == 2
    assert [r["status"] for r in lines] == ["ok", "exit"] and lines[1]["exit_code"] == 7
    for record in lines:
        assert record["caller_uid"] == os.getuid()
        assert len(record["policy"]["sha256"]) == 64 and record["policy"]["name"] == "shell"
        assert not CAPTURE_FIELDS & set(record)
    assert lines[0]["command"] == ["/bin/sh", "-c", 'echo "$0"; echo "$0" >&2', SECRET]
    with open(log) as f:
        text = f.read()
    assert text.count(SECRET) == 1  # ... the log has it only in the command the caller wrote
    assert os.stat(log).st_mode & 0o777 == 0o600


def test_environment_values_never_reach_the_log(logdir):
    log = os.path.join(logdir, "audit.log")
    env = {**os.environ, "TERM": SECRET, "AJ_TEST_SECRET": SECRET}
    r = jail("/bin/sh", "-c", "echo $TERM", options=["--audit-log", log, "--env", f"TOKEN={SECRET}"], env=env)
    assert r.returncode == 0 and SECRET in r.stdout, r  # TERM is passed through (pass_env) ...
    with open(log) as f:
        assert SECRET not in f.read()  # ... and neither it nor --env's value is logged
    (record,) = records(log)  # the run was logged, just without them
    assert record["status"] == "ok" and record["command"] == ["/bin/sh", "-c", "echo $TERM"], record


def test_policy_key_audit_log(logdir):
    log = os.path.join(logdir, "audit.log")
    policy = os.path.join(logdir, "audited.toml")
    with open(policy, "w") as f:
        f.write(textwrap.dedent(f"""\
            version = 1
            extends = "shell"
            audit_log = "{log}"
        """))
    r = subprocess.run([AGENTJAIL, "run", "-p", policy, "--", "/bin/true"], capture_output=True, text=True)
    assert r.returncode == 0, r
    (record,) = records(log)
    assert record["policy"]["source"] == policy and record["status"] == "ok"


def test_setup_errors_are_logged_too(logdir):
    log = os.path.join(logdir, "audit.log")
    r = jail("/bin/true", options=["--audit-log", log, "--ro", "/no/such/path:/x"])
    assert r.returncode == 125
    (record,) = records(log)
    assert record["status"] == "setup_error" and record["error"]


def test_refuses_a_symlink_and_says_so(logdir):
    target = os.path.join(logdir, "target")
    link = os.path.join(logdir, "link.log")
    os.symlink(target, link)
    r = jail("/bin/true", options=["--audit-log", link])
    assert r.returncode == 125, r
    assert r.stderr.count("agentjail:") >= 1 and "audit" in r.stderr
    assert not os.path.exists(target)


def test_fifty_concurrent_runs_append_whole_lines(logdir):
    log = os.path.join(logdir, "audit.log")
    # Long commands make each line ~40 KiB: far past PIPE_BUF and a page, where torn appends show.
    filler = "x" * 40000

    def one(i):
        return jail("/bin/sh", "-c", f"exit {i % 3}", filler, str(i), options=["--audit-log", log]).returncode

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(one, range(50)))
    assert codes == [i % 3 for i in range(50)]
    lines = records(log)  # every line parses: none was split or interleaved
    assert len(lines) == 50
    assert sorted(int(r["command"][-1]) for r in lines) == list(range(50))
    jsonschema = pytest.importorskip("jsonschema")
    with open(os.path.join(SOURCE_DIR, "schemas", "report.schema.json")) as f:
        validator = jsonschema.Draft202012Validator(json.load(f))
    for record in lines:
        assert record.pop("caller_uid") == os.getuid()
        errors = list(validator.iter_errors(record))
        assert not errors, errors[0].message
