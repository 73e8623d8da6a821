"""A failed command that names a file of the caller's directory the jail does not see: the
report's warnings and (in pass-through mode, not with -q) one agentjail: line say so and
suggest -w . (agentjail(1) WORKSPACES)."""
import os
import shutil
import tempfile

import pytest

from conftest import NOBODY, is_root, requires_userns, run

pytestmark = requires_userns

USERS = [None, NOBODY]


def user_id(user):
    return "self" if user is None else f"uid{user}"


@pytest.fixture
def project():
    """A directory with x.py, the cwd for the test; owned by the running user."""
    parent = tempfile.mkdtemp(prefix="aj-cwdargs-")
    os.chmod(parent, 0o755)
    path = os.path.join(parent, "proj")
    os.mkdir(path, 0o755)
    with open(os.path.join(path, "x.py"), "w") as f:
        f.write("print('x.py ran')\n")
    old = os.getcwd()
    os.chdir(path)
    yield path
    os.chdir(old)
    shutil.rmtree(parent, ignore_errors=True)


def owned_by(user, path):
    if user is not None and is_root():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), user, user)
        os.lchown(path, user, user)


def hint_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("agentjail:") and "-w ." in line]


@pytest.mark.parametrize("user", USERS, ids=user_id)
def test_unseen_script_is_named_with_the_fix(project, user):
    owned_by(user, project)
    r = run("python3", "x.py", policy="python", user=user)
    assert r.code != 0 and r.report["status"] == "exit", r
    warnings = [w for w in r.report["warnings"] if "x.py" in w]
    assert len(warnings) == 1, r.report["warnings"]
    assert "-w ." in warnings[0] and project in warnings[0], warnings
    lines = hint_lines(r.stderr)
    assert len(lines) == 1 and "x.py" in lines[0], r


def test_quiet_keeps_the_warning_but_prints_no_line(project):
    r = run("python3", "x.py", policy="python", options=["-q"])
    assert r.code != 0, r
    assert any("x.py" in w and "-w ." in w for w in r.report["warnings"]), r.report
    assert not hint_lines(r.stderr), r


def test_json_mode_warns_in_the_report_only(project):
    r = run("python3", "x.py", policy="python", json_mode=True)
    assert r.report["status"] == "exit", r
    assert any("x.py" in w and "-w ." in w for w in r.report["warnings"]), r.report
    assert not hint_lines(r.stderr), r


@pytest.mark.parametrize("user", USERS, ids=user_id)
def test_with_workspace_no_warning(project, user):
    owned_by(user, project)
    r = run("sh", "-c", "cat x.py; exit 3", policy="python", options=["-w", "."], user=user)
    assert r.code == 3 and "x.py ran" in r.stdout, r
    assert not [w for w in r.report["warnings"] if "caller's directory" in w], r.report
    assert not hint_lines(r.stderr), r


def test_missing_file_no_warning(project):
    r = run("python3", "missing.py", policy="python")
    assert r.code != 0, r
    assert not [w for w in r.report["warnings"] if "caller's directory" in w], r.report
    assert not hint_lines(r.stderr), r


def test_successful_command_no_warning(project):
    r = run("sh", "-c", "true", "x.py", policy="python")
    assert r.code == 0, r
    assert not [w for w in r.report["warnings"] if "caller's directory" in w], r.report


def test_symlink_in_cwd_is_not_followed(project):
    """A link in the cwd to a file elsewhere is an entry of the cwd (named, not followed); a
    path through a link to a directory is not judged at all."""
    os.symlink("/etc", os.path.join(project, "etc-link"))
    r = run("sh", "-c", "exit 1", "etc-link/passwd", policy="python")
    assert r.code == 1, r
    assert not [w for w in r.report["warnings"] if "caller's directory" in w], r.report
