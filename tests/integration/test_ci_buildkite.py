"""The Buildkite `command` hook (packaging/buildkite/command), run as the agent runs it
(buildkite.com/docs/agent/hooks): in the checkout, with BUILDKITE_COMMAND and, on an agent
with no-local-hooks, BUILDKITE_NO_LOCAL_HOOKS=true."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import AGENTJAIL, SOURCE_DIR, is_root

HOOK = os.path.join(SOURCE_DIR, "packaging", "buildkite", "command")


@pytest.fixture
def agent(tmp_path):
    """A hooks directory holding the hook and agentjail, and a checkout with planted
    repository hooks that would leave a marker on the host if anything ran them."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copyfile(HOOK, hooks / "command")
    os.chmod(hooks / "command", 0o755)
    os.symlink(AGENTJAIL, hooks / "agentjail")
    checkout = tmp_path / "checkout"
    (checkout / ".buildkite" / "hooks").mkdir(parents=True)
    marker = tmp_path / "repo-hook-ran"
    for name in ("command", "pre-command", "post-command", "environment"):
        path = checkout / ".buildkite" / "hooks" / name
        path.write_text(f"#!/bin/sh\ntouch {marker}\n")
        os.chmod(path, 0o755)
    return hooks / "command", checkout, marker


def run_hook(hook, checkout, command, **env):
    base = {"PATH": "/usr/bin:/bin", "BUILDKITE_COMMAND": command, "BUILDKITE_NO_LOCAL_HOOKS": "true"}
    base.update(env)
    return subprocess.run([str(hook)], cwd=checkout, env=base, capture_output=True, text=True, timeout=120)


def test_the_step_runs_jailed_and_repository_hooks_do_not_run(agent):
    hook, checkout, marker = agent
    r = run_hook(hook, checkout, "echo jailed-pid=$$; pwd; echo out > built.txt; ls .buildkite/hooks")
    assert r.returncode == 0, r
    # The jail's own pid namespace and the workspace at /work: not the host's shell.
    assert "jailed-pid=" in r.stdout and r.stdout.split("jailed-pid=")[1].split()[0] != str(os.getpid()), r
    assert "/work\n" in r.stdout, r
    assert (checkout / "built.txt").read_text() == "out\n"
    assert os.stat(checkout / "built.txt").st_uid == os.stat(checkout).st_uid
    assert not marker.exists(), "a repository hook ran"


def test_the_step_cannot_reach_the_network(agent):
    hook, checkout, _ = agent
    r = run_hook(hook, checkout, "tail -n +3 /proc/net/dev | cut -d: -f1")
    assert r.returncode == 0, r
    assert r.stdout.split() in ([], ["lo"]), r


def test_a_failing_step_fails_with_its_code(agent):
    hook, checkout, _ = agent
    r = run_hook(hook, checkout, "false; echo not-reached")
    assert r.returncode == 1, r
    assert "not-reached" not in r.stdout
    assert run_hook(hook, checkout, "exit 42").returncode == 42


def test_an_agent_with_repository_hooks_is_refused(agent):
    hook, checkout, marker = agent
    r = run_hook(hook, checkout, "echo must-not-run", BUILDKITE_NO_LOCAL_HOOKS="false")
    assert r.returncode == 125, r
    assert "no-local-hooks" in r.stderr and "must-not-run" not in r.stdout
    assert not marker.exists()


def test_the_pipeline_cannot_choose_the_policy_or_binary(agent, tmp_path):
    hook, checkout, _ = agent
    fake = tmp_path / "fake-agentjail"
    fake.write_text("#!/bin/sh\necho fake-ran\n")
    os.chmod(fake, 0o755)
    r = run_hook(hook, checkout, "echo real-jail", AGENTJAIL=str(fake), AGENTJAIL_POLICY="/nonexistent",
                 POLICY="/nonexistent", PATH=f"{tmp_path}:/usr/bin:/bin")
    assert r.returncode == 0 and "real-jail" in r.stdout and "fake-ran" not in r.stdout, r
