"""clients/python: the Sandbox against `agentjail serve` (agentjail-fake, the server with a fake
executor) and against the real CLI (`agentjail run --json`), its tool definitions, and that it
installs with pip from the repository without any network."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import AGENTJAIL, SOURCE_DIR, requires_userns

sys.path.insert(0, os.path.join(SOURCE_DIR, "clients", "python"))
import agentjail  # noqa: E402
from agentjail import RequestError, Sandbox  # noqa: E402
from test_serve import FAKE, Server  # noqa: E402

needs_fake = pytest.mark.skipif(not os.path.exists(FAKE), reason="agentjail-fake is not built")


@pytest.fixture(scope="module")
def server():
    s = Server("--policy", "default", "--policy", "python", "--policy", "node", "--policy", "shell")
    yield s
    s.stop()


@needs_fake
def test_server_run_and_files(server):
    sandbox = Sandbox(socket=server.socket)
    assert sandbox.mode == "server"
    result = sandbox.run(["echo", "hi"], files={"/work/a.txt": "A", "/work/b.bin": b"\xff\x00"},
                         collect=["/work/a.txt", "/work/b.bin", "/missing"], timeout=5, env={"X": "1"})
    assert result.ok and result.status == "ok" and result.exit_code == 0
    assert result.stdout == "hi\n"
    assert result.files == {"/work/a.txt": "A", "/work/b.bin": b"\xff\x00", "/missing": None}
    assert result.raw["limits"]["wall_time_ms"] == 5000
    assert result.raw["caller_uid"] == os.getuid()
    assert sandbox.health()["ok"] is True


@needs_fake
def test_server_run_code_picks_the_language_policy(server):
    result = Sandbox(socket=server.socket).run_code("print(1)", language="python")
    assert result.raw["policy"]["name"] == "python"
    assert result.raw["command"] == ["python3", "-c", "print(1)"]


@needs_fake
def test_server_errors_are_exceptions_with_the_message(server):
    sandbox = Sandbox(socket=server.socket)
    with pytest.raises(RequestError) as refused:
        sandbox.run(["echo"], policy="ruby")
    assert refused.value.status == 404 and "unknown policy" in refused.value.message
    with pytest.raises(RequestError) as above:
        sandbox.run(["echo"], limits={"memory": "1TiB"})
    assert above.value.status == 400 and "above the policy's" in above.value.message
    with pytest.raises(RequestError) as busy:
        sandbox.run(["busy"])
    assert busy.value.status == 503 and busy.value.retry_after == 2
    with pytest.raises(ValueError):
        sandbox.run(["echo"], files={"relative": "x"})


@needs_fake
def test_sandbox_finds_the_server_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("AGENTJAIL_SOCKET", server.socket)
    assert Sandbox().mode == "server"
    monkeypatch.setenv("AGENTJAIL_SOCKET", os.path.join(tempfile.gettempdir(), "no-such-agentjail.sock"))
    assert Sandbox().mode == "cli"


@needs_fake
def test_tool_definitions_and_calls(server):
    sandbox = Sandbox(socket=server.socket)
    assert [t["function"]["name"] for t in agentjail.OPENAI_TOOLS] == ["run_code", "run_command"]
    assert agentjail.OPENAI_TOOLS[0]["type"] == "function"
    assert agentjail.ANTHROPIC_TOOLS[1]["input_schema"]["required"] == ["argv"]
    answer = json.loads(agentjail.handle_tool_call(sandbox, "run_command", '{"argv": ["fail", "4"]}'))
    assert answer["status"] == "exit" and answer["exit_code"] == 4
    assert "bad arguments" in json.loads(agentjail.handle_tool_call(sandbox, "run_command", {"argv": []}))["error"]
    assert "bad arguments" in json.loads(agentjail.handle_tool_call(sandbox, "run_command", {"argv": ["x"], "shell": 1}))["error"]
    specs = agentjail.langchain_tools(sandbox)
    assert {spec["name"] for spec in specs} == {"run_code", "run_command"}
    command = next(spec for spec in specs if spec["name"] == "run_command")
    assert set(command) == {"name", "description", "args_schema", "func"}
    assert json.loads(command["func"](argv=["echo", "from", "langchain"]))["stdout"] == "from langchain\n"
    try:  # the schemas are valid JSON Schema, when the validator is installed
        import jsonschema
        for _, _, schema in agentjail.tools.TOOLS:
            jsonschema.Draft7Validator.check_schema(schema)
    except ImportError:
        pass


@requires_userns
def test_cli_fallback_runs_a_command():
    sandbox = Sandbox(agentjail=AGENTJAIL)
    sandbox.socket = None  # whatever runs on this machine, this test is of the CLI path
    result = sandbox.run(["/bin/echo", "hello"], policy="shell")
    assert result.ok, result.raw
    assert result.stdout == "hello\n"
    code = sandbox.run_code("import sys; print(6 * 7); sys.exit(3)")
    assert code.status == "exit" and code.exit_code == 3 and code.stdout == "42\n"


@requires_userns
def test_cli_fallback_files_and_collect():
    sandbox = Sandbox(agentjail=AGENTJAIL)
    sandbox.socket = None
    program = ("data = open('/work/in.txt').read()\n"
               "open('/work/out/result.txt', 'w').write(data.upper())\n"
               "open('/work/out/raw.bin', 'wb').write(bytes([255, 0]))\n"
               "import os; os.symlink('/etc/hostname', '/work/out/link')\n")
    result = sandbox.run(["python3", "/work/job.py"], policy="python",
                         files={"/work/job.py": program, "/work/in.txt": "hello", "/work/out/.keep": ""},
                         collect=["/work/out/result.txt", "/work/out/raw.bin", "/work/out/link", "/work/none"])
    assert result.ok, result.raw
    assert result.files["/work/out/result.txt"] == "HELLO"
    assert result.files["/work/out/raw.bin"] == b"\xff\x00"
    assert result.files["/work/out/link"] is None  # a symlink the jail made is never followed
    assert result.files["/work/none"] is None
    with pytest.raises(ValueError):
        sandbox.run(["true"], files={"/top.txt": "x"})


@requires_userns
def test_cli_fallback_timeout():
    sandbox = Sandbox(agentjail=AGENTJAIL)
    sandbox.socket = None
    result = sandbox.run_code("while True: pass", timeout=0.5)
    assert result.status in ("timeout", "cpu_limit"), result.raw
    assert result.raw["limits"]["wall_time_ms"] == 500


def test_pip_installs_the_client_offline():
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("pip is not installed")
    with tempfile.TemporaryDirectory() as work:
        # From a copy: setuptools leaves build/ and *.egg-info beside the sources it builds.
        source = os.path.join(work, "source")
        shutil.copytree(os.path.join(SOURCE_DIR, "clients", "python"), source)
        target = os.path.join(work, "target")
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation",
                               "--target", target, source],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0 and "setuptools" in proc.stderr and "No matching distribution" in proc.stderr:
            pytest.skip("setuptools is not installed for this python")
        assert proc.returncode == 0, proc.stderr
        check = subprocess.run([sys.executable, "-c", "import agentjail; print(agentjail.Sandbox.__name__)"],
                               capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=target), cwd=target)
        assert check.stdout.strip() == "Sandbox", check.stderr
