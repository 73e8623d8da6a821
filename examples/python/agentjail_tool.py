"""Give an AI agent a code-execution tool backed by agentjail.

Dependency-free (standard library only). Three pieces:

* run_code(code, language="python", policy=None, files=None, timeout=None) -> dict
  writes the code (and `files`) into a fresh temporary workspace, runs it with
  `agentjail run --json`, the workspace bound read-write at /work and /work the
  working directory, and returns agentjail's report (see agentjail(1), THE REPORT).
* OPENAI_TOOL and ANTHROPIC_TOOL: the same tool definition in the shapes OpenAI's
  and Anthropic's tool-calling APIs take, and tool_result_text(report), the short
  answer to hand back to the model.
* agent_loop.py next to this file: the call/answer loop, with a stubbed model.

The model chooses the code, the language, the files and (within MAX_TIMEOUT) the
time limit. It never chooses the policy: that is the operator's decision, made in
the code that calls run_code, because a policy is what decides what the code may
touch.

Set AGENTJAIL to the agentjail binary when it is not on PATH.
"""
import json
import os
import shutil
import subprocess
import tempfile

AGENTJAIL = os.environ.get("AGENTJAIL", "agentjail")

# language -> (file the code is written to, command run in the jail, default built-in policy)
LANGUAGES = {
    "python": ("main.py", ["python3", "main.py"], "python"),
    "javascript": ("main.js", ["node", "main.js"], "node"),
    "bash": ("main.sh", ["bash", "main.sh"], "shell"),
}

MAX_TIMEOUT = 120  # seconds: the most a model may ask for
WORKSPACE = "/work"  # where the workspace appears inside the jail

TOOL_DESCRIPTION = (
    "Run a program in an isolated sandbox and get its stdout, stderr and exit status. "
    "The sandbox has no network, a read-only system with the language's standard tools, and a "
    "writable working directory /work that holds the program and the files you pass. Nothing "
    "persists between calls. Output past 1 MiB per stream is cut off."
)

# JSON Schema of the tool's arguments, shared by both tool shapes.
TOOL_PARAMETERS = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "The complete program to run."},
        "language": {"type": "string", "enum": sorted(LANGUAGES), "default": "python",
                     "description": "The program's language."},
        "files": {"type": "object", "additionalProperties": {"type": "string"},
                  "description": "Extra text files to create in /work first: file name -> content."},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT,
                    "description": "Wall-clock limit in seconds (default: the policy's, 30 s)."},
    },
    "required": ["code"],
    "additionalProperties": False,
}

# OpenAI Chat Completions / Responses "tools" entry.
OPENAI_TOOL = {
    "type": "function",
    "function": {"name": "run_code", "description": TOOL_DESCRIPTION, "parameters": TOOL_PARAMETERS},
}

# Anthropic Messages API "tools" entry.
ANTHROPIC_TOOL = {"name": "run_code", "description": TOOL_DESCRIPTION, "input_schema": TOOL_PARAMETERS}


class AgentjailError(RuntimeError):
    """agentjail itself could not be started or printed no report (bad options, missing binary)."""


def _safe_name(name):
    """A file name for the workspace: relative, no '..', no absolute path, no NUL."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\0" in name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"unsafe file name {name!r}: use a relative path without '..'")
    return name


def _jail_ids(policy):
    """Host uid and gid the jail's user maps to when we run as root (process.host_user/host_group);
    None for each the policy leaves out: agentjail then leases one for the run alone."""
    out = subprocess.run([AGENTJAIL, "check", "--json", "-p", policy], capture_output=True, text=True)
    if out.returncode != 0:
        raise AgentjailError(f"agentjail check -p {policy}: {out.stderr.strip()}")
    process = json.loads(out.stdout)["process"]
    return process["host_user"], process["host_group"]


def _write_workspace(workspace, entry, code, files):
    for name, content in {**(files or {}), entry: code}.items():
        path = os.path.join(workspace, _safe_name(name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)


def _hand_over(workspace, uid, gid):
    """Run by root, the jail is an unprivileged host uid: give it the workspace, nobody else.
    A uid leased per run is not known before the run: then the workspace's directories are
    opened to everyone (0777) instead, below a directory of ours (0700) that no other user of
    the host can enter, so only the jail, which gets the workspace bound directly, reaches them
    (files: 0666, so the jail may change them as it could its own)."""
    for root, dirs, names in os.walk(workspace):
        for name in [root] + [os.path.join(root, n) for n in dirs + names]:
            if uid is not None and gid is not None:
                os.lchown(name, uid, gid)
            elif not os.path.islink(name):
                os.chmod(name, 0o777 if os.path.isdir(name) else 0o666)


def run_code(code, language="python", policy=None, files=None, timeout=None):
    """Runs `code` in agentjail and returns the report as a dict.

    The report's `status` says what happened (ok, exit, timeout, memory_limit, seccomp, ...),
    `stdout`/`stderr` hold the output (capped at the policy's limits.output), `exit_code` and
    `violations` the rest. `policy` defaults to the built-in policy of the language. Raises
    AgentjailError when agentjail printed no report, ValueError on bad arguments.
    """
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: one of {', '.join(sorted(LANGUAGES))}")
    entry, command, default_policy = LANGUAGES[language]
    policy = policy or default_policy
    argv = [AGENTJAIL, "run", "--json", "-p", policy, "--cwd", WORKSPACE]
    if timeout is not None:
        if not 0 < float(timeout) <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be in (0, {MAX_TIMEOUT}] seconds")
        argv += ["--time", f"{int(float(timeout) * 1000)}ms"]

    private = tempfile.mkdtemp(prefix="agentjail-tool-")  # 0700: ours alone
    workspace = os.path.join(private, "work")
    os.mkdir(workspace)
    try:
        _write_workspace(workspace, entry, code, files)
        if os.geteuid() == 0:
            _hand_over(workspace, *_jail_ids(policy))
        argv += ["--rw", f"{workspace}:{WORKSPACE}", "--"] + command
        # agentjail enforces the time limit itself; this timeout only guards against a wedged host.
        proc = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL,
                              timeout=(float(timeout) if timeout else MAX_TIMEOUT) + 60)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    if not proc.stdout.strip():
        raise AgentjailError(f"agentjail printed no report (exit {proc.returncode}): "
                             f"{proc.stderr.decode(errors='replace').strip()}")
    return json.loads(proc.stdout)


def tool_result_text(report):
    """The tool's answer for the model: what happened and the output, as compact JSON."""
    answer = {
        "status": report["status"],
        "exit_code": report["exit_code"],
        "signal": report["signal"],
        "stdout": report.get("stdout"),
        "stderr": report.get("stderr"),
    }
    if report.get("stdout_truncated") or report.get("stderr_truncated"):
        answer["note"] = "output was truncated"
    if report["status"] in ("timeout", "cpu_limit", "memory_limit", "pids_limit"):
        answer["note"] = f"the program hit a sandbox limit: {report['status']}"
    if report["violations"]:
        answer["blocked_syscalls"] = sorted({v["syscall"] for v in report["violations"]})
    if report["error"]:
        answer["error"] = report["error"]
    return json.dumps(answer)


if __name__ == "__main__":
    print(json.dumps(run_code('print("hello from the jail")'), indent=2))
