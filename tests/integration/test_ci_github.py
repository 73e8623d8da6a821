"""The GitHub Actions runner container hooks (packaging/github/index.js), fed the stdin JSON
the runner sends (github.com/actions/runner-container-hooks: {command, responseFile, args,
state}): prepare_job, run_script_step, run_container_step, cleanup_job."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import AGENTJAIL, SOURCE_DIR

HOOK = os.path.join(SOURCE_DIR, "packaging", "github", "index.js")
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def hook(request, **env):
    base = {"PATH": "/usr/bin:/bin", "AGENTJAIL_BIN": AGENTJAIL}
    base.update(env)
    return subprocess.run(["node", HOOK], input=json.dumps(request), capture_output=True, text=True,
                          env=base, timeout=120)


@pytest.fixture
def job(tmp_path):
    work = tmp_path / "_work"
    (work / "repo" / "repo").mkdir(parents=True)
    (work / "_temp").mkdir()
    response = tmp_path / "response.json"
    prepare = {"command": "prepare_job", "responseFile": str(response), "state": {}, "args": {
        "container": {"image": "node:20", "workingDirectory": "/__w/repo/repo", "createOptions": "",
                      "environmentVariables": {}, "userMountVolumes": [],
                      "systemMountVolumes": [{"sourceVolumePath": str(work), "targetVolumePath": "/__w",
                                              "readOnly": False}],
                      "registry": None, "portMappings": []},
        "services": []}}
    r = hook(prepare)
    assert r.returncode == 0, r
    answer = json.loads(response.read_text())
    assert answer["isAlpine"] is False and "container" in answer["context"]
    return work, answer["state"]


def script_step(work, state, script, env=None):
    (work / "_temp" / "step.sh").write_text(script)
    return hook({"command": "run_script_step", "responseFile": "", "state": state, "args": {
        "entryPoint": "bash", "entryPointArgs": ["-e", "/__w/_temp/step.sh"], "prependPath": ["/opt/tool/bin"],
        "workingDirectory": "/__w/repo/repo", "environmentVariables": env or {}}})


def test_a_script_step_runs_in_the_jail(job):
    work, state = job
    r = script_step(work, state, "echo pid=$$ greeting=$GREETING; pwd; echo $PATH; echo made > out.txt\n",
                    {"GREETING": "hello"})
    assert r.returncode == 0, r
    assert "greeting=hello" in r.stdout and "/__w/repo/repo\n" in r.stdout, r
    assert "/opt/tool/bin:" in r.stdout
    assert (work / "repo" / "repo" / "out.txt").read_text() == "made\n"
    assert os.stat(work / "repo" / "repo" / "out.txt").st_uid == os.stat(work).st_uid


def test_a_script_step_fails_with_its_code_and_has_no_network(job):
    work, state = job
    assert script_step(work, state, "exit 42\n").returncode == 42
    r = script_step(work, state, "tail -n +3 /proc/net/dev | cut -d: -f1\n")
    assert r.returncode == 0 and r.stdout.split() in ([], ["lo"]), r


def test_a_container_step_is_refused(job):
    _, state = job
    r = hook({"command": "run_container_step", "responseFile": "", "state": state,
              "args": {"image": "alpine", "entryPoint": "sh", "entryPointArgs": ["-c", "echo ran"]}})
    assert r.returncode != 0 and "ran" not in r.stdout, r
    assert "container steps" in r.stderr and r.stderr.startswith("agentjail:"), r


def test_cleanup_job_succeeds(job):
    _, state = job
    r = hook({"command": "cleanup_job", "responseFile": "", "state": state, "args": {}})
    assert r.returncode == 0, r


def test_services_and_a_broken_policy_fail_prepare(tmp_path):
    response = tmp_path / "response.json"
    base = {"command": "prepare_job", "responseFile": str(response), "state": {},
            "args": {"container": {"image": "x", "systemMountVolumes": []}, "services": []}}
    with_services = json.loads(json.dumps(base))
    with_services["args"]["services"] = [{"image": "redis"}]
    r = hook(with_services)
    assert r.returncode != 0 and "service containers" in r.stderr, r
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n[limits]\nmemory = "lots"\n')
    r = hook(base, AGENTJAIL_GITHUB_POLICY=str(bad))
    assert r.returncode != 0 and "policy" in r.stderr, r
    assert not response.exists()


def test_bad_input_is_one_clear_line():
    r = subprocess.run(["node", HOOK], input="{not json", capture_output=True, text=True, timeout=60)
    assert r.returncode == 125 and r.stderr.startswith("agentjail:") and r.stderr.count("\n") == 1, r
