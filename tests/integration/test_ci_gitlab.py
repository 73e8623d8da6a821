"""GitLab Runner's custom executor, played from the runner's side as its documentation
describes it (docs.gitlab.com/runner/executors/custom.html): config_exec prints JSON, then
prepare_exec, then `run_exec SCRIPT STAGE` once per stage with the job's variables as
CUSTOM_ENV_*, BUILD_FAILURE_EXIT_CODE / SYSTEM_FAILURE_EXIT_CODE and BUILD_EXIT_CODE_FILE,
then cleanup_exec. Our codes are unusual numbers so that an exit 1 or 2 cannot pass."""
import json
import os
import random
import shutil
import subprocess
import tempfile

import pytest

from conftest import AGENTJAIL, NOBODY, as_user_prefix, is_root, staged

BUILD_FAILURE = 17
SYSTEM_FAILURE = 23
STAGES = ["prepare_script", "get_sources", "restore_cache", "download_artifacts", "step_script",
          "after_script", "archive_cache", "upload_artifacts_on_success", "cleanup_file_variables"]


def has_allowlist():
    help_text = subprocess.run([AGENTJAIL, "run", "--help"], capture_output=True, text=True).stdout
    return "--allow" in help_text


class Runner:
    """The runner's side of one job: a state directory, a job id, the scripts it writes."""

    def __init__(self, user=None, policy="ci", extra=()):
        self.user = user
        self.tmp = tempfile.mkdtemp(prefix="aj-gitlab-")
        os.chmod(self.tmp, 0o755)
        self.state = os.path.join(self.tmp, "state")
        if user is not None:
            os.chown(self.tmp, user, user)
        self.job = str(random.randrange(10**6, 10**9))
        self.args = ["--state-dir", self.state, "-p", policy, *extra]
        self.binary = os.path.join(staged(), "agentjail") if user is not None else AGENTJAIL

    def env(self, **more):
        env = {"PATH": "/usr/bin:/bin", "CUSTOM_ENV_CI_JOB_ID": self.job,
               "BUILD_FAILURE_EXIT_CODE": str(BUILD_FAILURE), "SYSTEM_FAILURE_EXIT_CODE": str(SYSTEM_FAILURE)}
        env.update(more)
        return env

    def call(self, command, *rest, env=None, args=None):
        argv = [self.binary, "ci", "gitlab", command, *(self.args if args is None else args), *rest]
        if self.user is not None:
            argv = as_user_prefix(self.user, self.user) + argv
        return subprocess.run(argv, capture_output=True, text=True, env=env or self.env(), timeout=120)

    def stage(self, name, script, **env):
        path = os.path.join(self.tmp, f"script-{name}")
        with open(path, "w") as f:
            f.write(script)
        os.chmod(path, 0o644)
        code_file = os.path.join(self.tmp, f"code-{name}")
        if self.user is not None:
            open(code_file, "w").close()
            os.chown(code_file, self.user, self.user)
        r = self.call("run", path, name, env=self.env(BUILD_EXIT_CODE_FILE=code_file, **env))
        code = open(code_file).read().strip() if os.path.exists(code_file) else ""
        return r, code

    def report(self, stage):
        with open(os.path.join(self.state, self.job, "reports", f"{stage}.json")) as f:
            return json.load(f)

    def close(self):
        self.call("cleanup")
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(params=["root", "nobody"])
def runner(request):
    user = None
    if request.param == "nobody":
        if not is_root():
            pytest.skip("runs as uid 65534 from root")
        user = NOBODY
    elif not is_root():
        pytest.skip("the root runner needs root")
    r = Runner(user=user)
    yield r
    r.close()


def test_config_prints_the_runner_settings(runner):
    r = runner.call("config")
    assert r.returncode == 0, r
    config = json.loads(r.stdout)
    assert config["builds_dir"] == "/builds"
    assert config["builds_dir_is_shared"] is False
    assert config["driver"]["name"] == "agentjail"


def test_exit_42_reaches_the_exit_code_file_and_fails_the_build(runner):
    assert runner.call("prepare").returncode == 0
    r, code = runner.stage("step_script", "echo step-ran\nexit 42\n")
    assert "step-ran" in r.stdout, r
    assert r.returncode == BUILD_FAILURE, r
    assert code == "42"
    assert runner.report("step_script")["exit_code"] == 42


def test_stages_share_the_builds_workspace(runner):
    assert runner.call("prepare").returncode == 0
    r, _ = runner.stage("prepare_script", "echo built > /builds/out && id -u\n")
    assert r.returncode == 0, r
    host = os.path.join(runner.state, runner.job, "builds", "out")
    # The jail's file belongs to the owner of the builds directory, whoever the jail ran as.
    assert os.stat(host).st_uid == os.stat(os.path.dirname(host)).st_uid
    assert r.stdout.strip() != "0" or runner.user is not None
    r, code = runner.stage("step_script", "cat /builds/out\n")
    assert r.returncode == 0 and "built" in r.stdout, r
    assert code == ""


def test_broken_policy_is_a_system_failure(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 1\n[limits]\nmemory = \"lots\"\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(bad, 0o644)
    runner = Runner(policy=str(bad))
    try:
        for command in ("config", "prepare"):
            r = runner.call(command)
            assert r.returncode == SYSTEM_FAILURE, (command, r)
            assert "policy" in r.stderr, r
        r, code = runner.stage("step_script", "echo must-not-run\n")
        assert r.returncode == SYSTEM_FAILURE, r
        assert "must-not-run" not in r.stdout
        assert code == ""
    finally:
        runner.close()


def test_a_job_variable_cannot_choose_the_policy(runner):
    assert runner.call("prepare").returncode == 0
    hostile = {"CUSTOM_ENV_AGENTJAIL_POLICY": "/nonexistent.toml", "AGENTJAIL_POLICY": "/nonexistent.toml",
               "CUSTOM_ENV_POLICY": "/nonexistent.toml"}
    r, _ = runner.stage("step_script", "echo ran-under-ci\n", **hostile)
    assert r.returncode == 0 and "ran-under-ci" in r.stdout, r
    assert runner.report("step_script")["policy"]["name"] == "ci"


def test_a_job_id_that_is_not_a_number_is_a_system_failure(runner):
    r = runner.call("prepare", env=runner.env(CUSTOM_ENV_CI_JOB_ID="../../etc"))
    assert r.returncode == SYSTEM_FAILURE, r
    assert not os.path.exists(os.path.join(runner.tmp, "etc"))


def test_cleanup_leaves_nothing(runner):
    assert runner.call("prepare").returncode == 0
    r, _ = runner.stage("step_script", "mkdir -p /builds/a/b && echo x > /builds/a/b/c\n")
    assert r.returncode == 0, r
    assert runner.call("cleanup").returncode == 0
    assert not os.path.exists(os.path.join(runner.state, runner.job))


def test_the_job_cannot_reach_the_network_by_default(runner):
    assert runner.call("prepare").returncode == 0
    r, _ = runner.stage("step_script", "tail -n +3 /proc/net/dev | cut -d: -f1\n")
    assert r.returncode == 0, r
    assert r.stdout.split() in ([], ["lo"]), r


@pytest.mark.skipif(not has_allowlist(), reason="agentjail run has no --allow (the egress allowlist is not in this build)")
def test_get_sources_reaches_only_the_server(tmp_path):
    if not is_root():
        pytest.skip("needs root for a network namespace with only lo")
    runner = Runner()
    try:
        script = ("git clone http://10.0.0.1/group/project.git /builds/p 2>&1; echo clone-exit=$?\n")
        # The runner's side in a network namespace with only lo: 10.0.0.1 is no real host.
        argv_prefix = ["unshare", "-n", "sh", "-c", "ip link set lo up; exec \"$@\"", "sh"]
        path = os.path.join(runner.tmp, "script-get_sources")
        with open(path, "w") as f:
            f.write(script)
        os.chmod(path, 0o644)
        assert runner.call("prepare").returncode == 0
        r = subprocess.run(argv_prefix + [AGENTJAIL, "ci", "gitlab", "run", *runner.args,
                                           "--server", "http://127.0.0.1:9", path, "get_sources"],
                           capture_output=True, text=True, env=runner.env(), timeout=120)
        assert "clone-exit=" in r.stdout and "clone-exit=0" not in r.stdout, r
        assert "10.0.0.1" in json.dumps(runner.report("get_sources")), r
    finally:
        runner.close()
