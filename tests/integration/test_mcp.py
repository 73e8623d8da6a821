"""`agentjail mcp`: the MCP server on stdio, driven by the official MCP TypeScript SDK's client
(tests/mcp, installed from npm here) and by hand-written JSON-RPC for what a well-behaved client
never sends.

Against agentjail-fake (the same command with a fake executor, tests/support) the protocol is
tested on any machine; against agentjail itself once its jail executor serves mcp.
"""
import json
import os
import shutil
import subprocess

import pytest

from conftest import AGENTJAIL, SOURCE_DIR

FAKE = os.environ.get("AGENTJAIL_FAKE", os.path.join(os.path.dirname(AGENTJAIL), "tests", "agentjail-fake"))
MCP_DIR = os.path.join(SOURCE_DIR, "tests", "mcp")


def has_mcp_command(binary):
    if not os.path.exists(binary):
        return False
    proc = subprocess.run([binary, "mcp", "--help"], capture_output=True, text=True)
    return proc.returncode == 0


@pytest.fixture(scope="module")
def sdk_client():
    """tests/mcp with its pinned @modelcontextprotocol/sdk installed; skips when npm cannot get it."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed for the MCP SDK client")
    if not os.path.isdir(os.path.join(MCP_DIR, "node_modules", "@modelcontextprotocol", "sdk")):
        proc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=MCP_DIR,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            pytest.skip("npm could not install @modelcontextprotocol/sdk (offline?): " + proc.stderr.strip()[-300:])
    return os.path.join(MCP_DIR, "client.mjs")


def run_sdk_client(client, command, env=None):
    proc = subprocess.run(["node", client] + command, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def text_of(result):
    return "".join(part["text"] for part in result["content"] if part["type"] == "text")


def check_sdk_session(out):
    assert out["serverVersion"]["name"] == "agentjail"
    assert out["capabilities"]["tools"] == {"listChanged": False}
    assert "new jail" in out["instructions"]
    assert [tool["name"] for tool in out["tools"]] == ["run_code", "run_command"]
    schema = out["tools"][0]["inputSchema"]
    assert schema["properties"]["language"]["enum"] == ["python", "node", "shell"]
    assert schema["required"] == ["language", "code"]
    assert out["runCommand"]["isError"] is False
    assert "status: ok" in text_of(out["runCommand"])
    assert "hello" in text_of(out["runCommand"])
    assert out["runCommand"]["structuredContent"]["exit_code"] == 0
    assert out["failing"]["isError"] is True
    assert "exit code: 3" in text_of(out["failing"])
    assert out["badArguments"]["code"] == -32602
    assert "argv" in out["badArguments"]["message"]
    assert out["unknownTool"]["code"] == -32602
    assert out["ping"] == {}


@pytest.mark.skipif(not os.path.exists(FAKE), reason="agentjail-fake is not built")
def test_sdk_client_speaks_to_mcp_with_fake_executor(sdk_client):
    out = run_sdk_client(sdk_client, [FAKE, "mcp"], env={"MCP_LANGUAGE": "shell", "MCP_CODE": "echo 42"})
    check_sdk_session(out)
    # The fake runs no shell: it answers the command it was given, so this shows what run_code asked for.
    assert out["runCode"]["isError"] is True
    assert "/bin/sh: command not found" in text_of(out["runCode"])


@pytest.mark.skipif(not has_mcp_command(AGENTJAIL), reason="agentjail has no mcp command yet (its jail executor is not wired)")
def test_sdk_client_runs_code_in_real_jails(sdk_client):
    out = run_sdk_client(sdk_client, [AGENTJAIL, "mcp"], env={
        "MCP_LANGUAGE": "python", "MCP_CODE": "print(6 * 7)",
        "MCP_ARGV": '["/bin/echo", "hello"]', "MCP_FAILING_ARGV": '["/bin/sh", "-c", "exit 3"]'})
    check_sdk_session(out)
    assert out["runCode"]["isError"] is False, text_of(out["runCode"])
    assert "42" in text_of(out["runCode"])


def raw_session(lines, binary=FAKE):
    """Writes `lines` to `binary mcp`, closes stdin, returns the messages it answered."""
    data = "".join(line + "\n" for line in lines)
    proc = subprocess.run([binary, "mcp"], input=data, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def answered_session(lines, binary=FAKE):
    """Writes `lines`, reads one answer per line, then closes stdin (runs are not cut short)."""
    proc = subprocess.Popen([binary, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        answers = []
        for line in lines:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            answers.append(json.loads(proc.stdout.readline()))
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        return answers
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def request(id_, method, params=None):
    message = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message)


pytestmark_fake = pytest.mark.skipif(not os.path.exists(FAKE), reason="agentjail-fake is not built")


@pytestmark_fake
def test_mcp_negotiates_protocol_version():
    answers = raw_session([
        request(1, "initialize", {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        request(2, "initialize", {"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    ])
    by_id = {answer["id"]: answer for answer in answers}
    assert by_id[1]["result"]["protocolVersion"] == "2024-11-05"
    assert by_id[2]["result"]["protocolVersion"] == "2025-06-18"


@pytestmark_fake
def test_mcp_answers_bad_messages_with_json_rpc_errors():
    answers = raw_session([
        "not json",
        "[1, 2]",
        json.dumps({"jsonrpc": "2.0", "id": 1}),                    # a response: nothing to say
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json.dumps({"jsonrpc": "1.0", "id": 2, "method": "ping"}),
        json.dumps({"jsonrpc": 2, "id": 10, "method": "ping"}),
        request(3, "resources/list"),
        request(4, "tools/call", {"arguments": {}}),
        request(5, "tools/call", {"name": "run_code", "arguments": {"language": "cobol", "code": "x"}}),
        request(6, "tools/call", {"name": "run_command", "arguments": {"argv": ["echo"], "extra": 1}}),
        request(7, "tools/call", {"name": "run_command", "arguments": {"argv": ["echo"], "timeout": "1h"}}),
        json.dumps({"jsonrpc": "2.0", "id": {"object": True}, "method": "ping"}),
        '{"jsonrpc": "2.0", "id": 9, "method": "ping", "params": {"n": 1E656}}',  # past a double: still an answer
        request(8, "ping"),
    ])
    assert answers[0]["error"]["code"] == -32700 and answers[0]["id"] is None
    assert answers[1]["error"]["code"] == -32600
    by_id = {answer["id"]: answer for answer in answers if answer.get("id") is not None}
    assert by_id[2]["error"]["code"] == -32600
    assert by_id[10]["error"]["code"] == -32600
    assert by_id[3]["error"]["code"] == -32601
    assert by_id[4]["error"]["code"] == -32602
    assert "language" in by_id[5]["error"]["message"]
    assert "extra" in by_id[6]["error"]["message"]
    assert "above the policy's" in by_id[7]["error"]["message"]
    assert by_id[8]["result"] == {}
    assert sum(1 for a in answers if a.get("id") is None) == 4  # not JSON, a batch, an object id, 1E656
    assert 1 not in by_id  # a response is never answered


@pytestmark_fake
def test_mcp_skips_an_oversized_line_and_goes_on():
    huge = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x" * (17 << 20)}})
    answers = raw_session([huge, request(2, "ping")])
    assert answers[0]["error"]["code"] == -32700
    assert "longer than" in answers[0]["error"]["message"]
    assert answers[1] == {"jsonrpc": "2.0", "id": 2, "result": {}}


@pytestmark_fake
def test_mcp_result_keeps_head_and_tail_of_long_output():
    answers = answered_session([request(1, "tools/call", {"name": "run_command", "arguments": {"argv": ["spew", "100000"]}})])
    text = answers[0]["result"]["content"][0]["text"]
    assert "bytes left out" in text
    assert len(text) < 20000
    assert answers[0]["result"]["isError"] is False


@pytestmark_fake
def test_mcp_closed_stdin_ends_running_calls():
    answers = raw_session([request(1, "tools/call", {"name": "run_command", "arguments": {"argv": ["sleep", "60"]}})])
    assert answers[0]["result"]["isError"] is True
    assert answers[0]["result"]["structuredContent"]["status"] == "signal"


# --- mcp --pool: the warm pool of serve, in the same process --------------------------------

def children_of(pid):
    out = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.update(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def test_mcp_pool_of_an_unknown_policy_is_refused():
    proc = subprocess.run([AGENTJAIL, "mcp", "--pool", "nosuch=1"], input="", capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 125, proc
    assert proc.stderr.startswith("agentjail: ") and "no --policy is named" in proc.stderr, proc.stderr
    proc = subprocess.run([AGENTJAIL, "mcp", "--pool", "shell=lots"], input="", capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 125 and "NAME=N" in proc.stderr, proc


def test_mcp_pool_keeps_a_jail_ready_runs_calls_and_leaves_nothing():
    from conftest import userns_works
    if not userns_works():
        pytest.skip("user namespaces are not available here")
    import time
    proc = subprocess.Popen([AGENTJAIL, "mcp", "--pool", "shell=1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # Before any call: the pooled jail's worker is built, a child of the server.
        deadline = time.monotonic() + 30
        while not children_of(proc.pid) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.02)
        ready = children_of(proc.pid)
        assert ready, "no pooled jail was built before the first call"
        for n in (1, 2):  # the second call takes the jail built again after the first
            proc.stdin.write(request(n, "tools/call", {"name": "run_code", "arguments": {
                "language": "shell", "code": "echo $((6 * 7)); cat /proc/1/comm"}}) + "\n")
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())
            assert answer["id"] == n and answer["result"]["isError"] is False, answer
            assert "42" in answer["result"]["content"][0]["text"], answer
        # The first worker ran its one command and went: nothing of it is reused.
        deadline = time.monotonic() + 30
        while ready & children_of(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not ready & children_of(proc.pid), "the pooled jail of the first call outlived it"
        last = children_of(proc.pid)
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        for pid in last:
            assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z", pid
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
