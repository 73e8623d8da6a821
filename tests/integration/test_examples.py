"""examples/ work as written: the Python agent tool runs code through the real binary, its tool
definitions are valid JSON Schema in the OpenAI and Anthropic shapes, the stubbed agent loop
finishes, the CI jobs' command builds the sample project, and the Kubernetes Job's command and
securityContext hold up (the command runs here under the same capability bounds)."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import AGENTJAIL, NOBODY, SOURCE_DIR, agentjail_for, as_user_prefix, is_root, requires_root, requires_userns

EXAMPLES = os.path.join(SOURCE_DIR, "examples")
pytestmark = requires_userns


def load_tool():
    os.environ["AGENTJAIL"] = AGENTJAIL
    spec = importlib.util.spec_from_file_location("agentjail_tool", os.path.join(EXAMPLES, "python", "agentjail_tool.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def test_run_code_python():
    report = tool.run_code("import sys\nprint(6 * 7)\nprint('warn', file=sys.stderr)")
    assert report["status"] == "ok", report
    assert report["stdout"] == "42\n" and report["stderr"] == "warn\n"
    assert report["policy"]["name"] == "python"


def test_run_code_files_in_and_out():
    """Input files go in through the workspace; what the program adds and changes comes back
    (listed in the report, contents in output_files) and the input directory is left alone."""
    code = ("import os\nprint(open('data/input.txt').read().upper())\nprint(os.getcwd())\n"
            "open('out.txt', 'w').write('done')\nos.makedirs('results')\n"
            "open('results/table.csv', 'w').write('a,b\\n1,2\\n')\n"
            "open('data/input.txt', 'a').write(' world')\nos.symlink('/etc/passwd', 'link')")
    report = tool.run_code(code, files={"data/input.txt": "hello"})
    assert report["status"] == "ok", report
    assert report["stdout"] == "HELLO\n/work\n"
    changes = {c["path"]: c["change"] for c in report["workspace"]["changes"]}
    assert changes["out.txt"] == "added" and changes["data/input.txt"] == "modified", changes
    assert changes["results"] == "added" and changes["link"] == "added", changes
    assert report["output_files"] == {"out.txt": b"done", "results/table.csv": b"a,b\n1,2\n",
                                      "data/input.txt": b"hello world"}, report["output_files"]
    assert report["output_files_omitted"] == []
    answer = json.loads(tool.tool_result_text(report))
    assert {f["path"] for f in answer["files"]} == set(changes), answer
    assert "done" not in json.dumps(answer["files"]), "file contents stay out of the model's context"


def test_run_code_output_dir_keeps_the_files(tmp_path):
    out = tmp_path / "outputs"
    report = tool.run_code("open('result.txt', 'w').write('42')", output_dir=str(out))
    assert report["status"] == "ok", report
    assert report["workspace"]["kept"] == str(out)
    assert (out / "result.txt").read_text() == "42"
    assert report["output_files"] == {"result.txt": b"42"}


def test_tool_result_keeps_only_head_and_tail_of_each_stream():
    report = tool.run_code("import sys\nsys.stdout.write('A' * 5000 + 'B' * 100000 + 'C' * 5000)\n"
                           "sys.stderr.write('short')")
    assert report["status"] == "ok", report
    answer = json.loads(tool.tool_result_text(report))
    elided = 110000 - tool.STREAM_HEAD - tool.STREAM_TAIL
    assert answer["stdout_elided_bytes"] == elided, answer.keys()
    assert answer["stdout"].startswith("A" * tool.STREAM_HEAD) and answer["stdout"].endswith("C" * tool.STREAM_TAIL)
    assert f"[... {elided} bytes elided ...]" in answer["stdout"]
    assert "B" not in answer["stdout"].replace("bytes", "")
    assert answer["stderr"] == "short" and "stderr_elided_bytes" not in answer
    assert len(tool.tool_result_text(report)) < 3 * (tool.STREAM_HEAD + tool.STREAM_TAIL)


def test_run_code_errors_are_reports():
    report = tool.run_code("raise SystemExit(3)")
    assert report["status"] == "exit" and report["exit_code"] == 3
    report = tool.run_code("import socket; socket.create_connection(('192.0.2.1', 80), timeout=1)")
    assert report["status"] == "exit" and "PermissionError" in report["stderr"], report


def test_run_code_timeout():
    report = tool.run_code("while True: pass", timeout=0.5)
    assert report["status"] in ("timeout", "cpu_limit"), report
    assert report["limits"]["wall_time_ms"] == 500


def test_run_code_bash():
    report = tool.run_code("echo $((6 * 7)) from $SHELL", language="bash")
    assert report["status"] == "ok" and report["stdout"] == "42 from /bin/bash\n", report


@pytest.mark.skipif(shutil.which("node") is None, reason="nodejs is not installed")
def test_run_code_javascript():
    report = tool.run_code("console.log(6 * 7)", language="javascript")
    assert report["status"] == "ok" and report["stdout"] == "42\n", report


def test_run_code_refuses_escaping_file_names():
    for name in ("../x", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError):
            tool.run_code("pass", files={name: "x"})


def test_run_code_leaves_no_workspace_behind():
    before = set(os.listdir(tempfile.gettempdir()))
    report = tool.run_code("print(1)")
    after = set(os.listdir(tempfile.gettempdir()))
    assert report["status"] == "ok" and report["stdout"] == "1\n", report  # a workspace was made and used
    assert not [name for name in after - before if name.startswith("agentjail-tool-")]


def test_tool_definitions_have_both_shapes_and_valid_schemas():
    jsonschema = pytest.importorskip("jsonschema")
    assert tool.OPENAI_TOOL["type"] == "function"
    function = tool.OPENAI_TOOL["function"]
    assert set(function) == {"name", "description", "parameters"} and function["name"] == "run_code"
    assert set(tool.ANTHROPIC_TOOL) == {"name", "description", "input_schema"}
    schema = tool.ANTHROPIC_TOOL["input_schema"]
    assert schema == function["parameters"]
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"code": "print(1)"})
    assert validator.is_valid({"code": "x", "language": "bash", "files": {"a.txt": "b"}, "timeout": 5})
    assert not validator.is_valid({"language": "python"})
    assert not validator.is_valid({"code": "x", "policy": "ci"})  # the model never picks the policy
    assert not validator.is_valid({"code": "x", "timeout": 10_000})
    # Every argument the schema allows is one run_code takes.
    assert set(schema["properties"]) <= set(tool.run_code.__code__.co_varnames)


def test_tool_result_text_is_compact_json():
    report = tool.run_code("print('hi')")
    answer = json.loads(tool.tool_result_text(report))
    assert answer == {"status": "ok", "exit_code": 0, "signal": None, "stdout": "hi\n", "stderr": ""}


def test_agent_loop_with_stubbed_model():
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, "python", "agent_loop.py")], capture_output=True,
                          text=True, env={**os.environ, "AGENTJAIL": AGENTJAIL}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "The sum of 0! through 9! is 409114."


# --- CI -------------------------------------------------------------------------------------

def ci_commands():
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    with open(os.path.join(EXAMPLES, "ci", "github-actions.yml")) as f:
        github = yaml.safe_load(f)
    with open(os.path.join(EXAMPLES, "ci", "gitlab-ci.yml")) as f:
        gitlab = yaml.safe_load(f)
    steps = github["jobs"]["build"]["steps"]
    github_runs = [step["run"] for step in steps if "agentjail run" in step.get("run", "")]
    gitlab_runs = [line for line in gitlab["build"]["script"] if "agentjail run" in line]
    assert len(github_runs) == 1 and len(gitlab_runs) == 1
    assert github_runs[0] == gitlab_runs[0], "the two CI examples should run the same command"
    assert " -p ci " in github_runs[0]
    return github_runs[0]


@pytest.mark.parametrize("owner", ["root", "user"])
def test_ci_examples_build_the_sample_project(owner):
    """As on a CI runner: root (GitLab's Docker executor, a container job) building a root-owned
    checkout, or an ordinary user building their own; the build's files belong to the checkout's
    owner afterwards, with no chown."""
    command = ci_commands()
    assert "-w .:rw" in command or ":overlay" in command, command
    if owner == "root" and not is_root():
        pytest.skip("needs root")
    project = tempfile.mkdtemp(prefix="aj-ci-")
    try:
        os.chmod(project, 0o755)
        shutil.copytree(os.path.join(EXAMPLES, "ci", "sample"), project, dirs_exist_ok=True)
        argv = ["sh", "-c", command]
        user = NOBODY if owner == "user" and is_root() else None
        env = {"PATH": os.path.dirname(os.path.abspath(agentjail_for(user))) + ":/usr/bin:/bin", "LANG": "C.UTF-8"}
        if user is not None:
            for root, dirs, files in os.walk(project):
                for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                    os.chown(name, NOBODY, NOBODY)
            argv = as_user_prefix() + argv
        proc = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300)
        report_path = os.path.join(project, "agentjail-report.json")
        report = json.load(open(report_path)) if os.path.exists(report_path) else None
        if owner == "root" and report and any("no idmapped mount" in w for w in report["warnings"]):
            pytest.skip(f"no idmapped mount of a root-owned checkout here: {report['warnings']}")
        assert proc.returncode == 0, proc
        assert "test passed" in proc.stdout
        assert report["status"] == "ok" and report["policy"]["name"] == "ci", report
        hello = os.path.join(project, "hello")
        assert os.path.exists(hello), "the build's output lands in the checkout"
        expected = 0 if owner == "root" else os.stat(project).st_uid
        assert os.stat(hello).st_uid == expected, "the build's files belong to the checkout's owner"
    finally:
        shutil.rmtree(project, ignore_errors=True)


# --- Kubernetes -----------------------------------------------------------------------------

def k8s_job():
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    with open(os.path.join(EXAMPLES, "kubernetes", "agentjail-job.yaml")) as f:
        return yaml.safe_load(f)


def test_kubernetes_job_security_context():
    job = k8s_job()
    assert job["kind"] == "Job" and job["apiVersion"] == "batch/v1"
    pod = job["spec"]["template"]["spec"]
    assert pod["hostUsers"] is False
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["procMount"] == "Unmasked"
    assert context["seccompProfile"] == {"type": "Unconfined"}
    assert context["appArmorProfile"] == {"type": "Unconfined"}
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["SETUID", "SETGID"]}
    assert context["allowPrivilegeEscalation"] is False
    assert container["command"][:2] == ["agentjail", "run"]


@requires_root
def test_kubernetes_command_runs_with_only_setuid_and_setgid():
    """The Job's command, run here as root with exactly the pod's capabilities and no_new_privs."""
    container = k8s_job()["spec"]["template"]["spec"]["containers"][0]
    workspace = tempfile.mkdtemp(prefix="aj-k8s-")
    try:
        os.chown(workspace, 0, NOBODY)  # fsGroup: 65534 makes the volume the jail's group's
        os.chmod(workspace, 0o2775)
        argv = [AGENTJAIL if word == "agentjail" else word.replace("/workspace", workspace)
                for word in container["command"]]
        caps = [c.lower() for c in container["securityContext"]["capabilities"]["add"]]
        bound = "-all," + ",".join("+" + c for c in caps)
        prefix = ["setpriv", f"--bounding-set={bound}", f"--inh-caps={bound}", "--no-new-privs"]
        proc = subprocess.run(prefix + argv, capture_output=True, text=True, timeout=120)
        report = json.loads(proc.stdout) if proc.stdout.strip() else None
        assert proc.returncode == 0 and report and report["status"] == "ok", proc
        assert report["stdout"] == "hello from the jail\n"
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
