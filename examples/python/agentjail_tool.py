"""Give an AI agent a code-execution tool backed by agentjail.

Dependency-free (standard library only). Three pieces:

* run_code(code, language="python", policy=None, files=None, timeout=None, output_dir=None)
  -> dict writes the code (and `files`) into a fresh temporary directory, runs it with
  `agentjail run --json` with that directory as an overlay workspace at /work (the working
  directory: the program may change anything there, the directory itself is never written),
  and returns agentjail's report (see agentjail(1), THE REPORT, and WORKSPACES). The files
  the program added or changed come back: `report["workspace"]["changes"]` lists them,
  `report["output_files"]` holds their contents (path -> bytes), and with `output_dir` they
  are also left there, as plain files, for the caller to keep.
* OPENAI_TOOL and ANTHROPIC_TOOL: the same tool definition in the shapes OpenAI's
  and Anthropic's tool-calling APIs take, and tool_result_text(report), the short
  answer to hand back to the model: the status, the head and the tail of each stream
  (4 KiB each, with the number of bytes left out between them), and the files written.
* agent_loop.py next to this file: the call/answer loop, with a stubbed model.

The model chooses the code, the language, the files and (within MAX_TIMEOUT) the
time limit. It never chooses the policy: that is the operator's decision, made in
the code that calls run_code, because a policy is what decides what the code may
touch.

An overlay workspace works the same run by root or by an ordinary user: the jail's writes
go to agentjail's upper layer and then into the changes directory, so no file needs a chown
for the jail's uid.

Set AGENTJAIL to the agentjail binary when it is not on PATH.
"""
import json
import os
import shutil
import stat
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
STREAM_HEAD = STREAM_TAIL = 4096  # bytes of each stream the model sees, from the start and the end
MAX_OUTPUT_FILES = 100  # output files read back into report["output_files"]
MAX_OUTPUT_FILE_BYTES = 1 << 20  # each; a bigger one is left out (and listed in output_files_omitted)

TOOL_DESCRIPTION = (
    "Run a program in an isolated sandbox and get its exit status, the start and end of its "
    "stdout and stderr, and the files it wrote. The sandbox has no network, a read-only system "
    "with the language's standard tools, and a working directory /work that holds the program "
    "and the files you pass; the files the program creates or changes in /work are returned. "
    "Nothing persists between calls."
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


def _write_workspace(workspace, entry, code, files):
    for name, content in {**(files or {}), entry: code}.items():
        path = os.path.join(workspace, _safe_name(name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)


def _read_outputs(changes_dir):
    """The regular files under `changes_dir` (what the jail added or changed), path -> bytes,
    bounded; symbolic links and anything but regular files are never followed or read.
    Returns (files, omitted paths)."""
    files, omitted = {}, []
    for root, dirs, names in os.walk(changes_dir):  # os.walk does not follow directory links
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, changes_dir)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue  # a link (O_NOFOLLOW) or gone
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    continue
                if len(files) >= MAX_OUTPUT_FILES or st.st_size > MAX_OUTPUT_FILE_BYTES:
                    omitted.append(rel)
                    continue
                with os.fdopen(fd, "rb", closefd=False) as f:
                    files[rel] = f.read(MAX_OUTPUT_FILE_BYTES + 1)[:MAX_OUTPUT_FILE_BYTES]
            finally:
                os.close(fd)
    return files, omitted


def run_code(code, language="python", policy=None, files=None, timeout=None, output_dir=None):
    """Runs `code` in agentjail and returns the report as a dict.

    The report's `status` says what happened (ok, exit, timeout, memory_limit, seccomp, ...),
    `stdout`/`stderr` hold the output (capped at the policy's limits.output), `exit_code` and
    `violations` the rest; `workspace.changes` lists what the program added, modified or
    deleted in /work, and `output_files` (path -> bytes) holds the added and modified files
    (`output_files_omitted`: those past MAX_OUTPUT_FILES or MAX_OUTPUT_FILE_BYTES). With
    `output_dir` (a new or empty directory, chosen by the operator, never by the model) the
    files stay there too. `policy` defaults to the built-in policy of the language. Raises
    AgentjailError when agentjail printed no report, ValueError on bad arguments.
    """
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: one of {', '.join(sorted(LANGUAGES))}")
    entry, command, default_policy = LANGUAGES[language]
    policy = policy or default_policy
    argv = [AGENTJAIL, "run", "--json", "-p", policy]
    if timeout is not None:
        if not 0 < float(timeout) <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be in (0, {MAX_TIMEOUT}] seconds")
        argv += ["--time", f"{int(float(timeout) * 1000)}ms"]

    private = tempfile.mkdtemp(prefix="agentjail-tool-")  # 0700: ours alone
    inputs = os.path.join(private, "work")
    changes = output_dir or os.path.join(private, "changes")  # agentjail creates it
    os.mkdir(inputs)
    try:
        _write_workspace(inputs, entry, code, files)
        argv += ["-w", f"{inputs}:{WORKSPACE}:overlay", "--changes", changes, "--"] + command
        # agentjail enforces the time limit itself; this timeout only guards against a wedged host.
        proc = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL,
                              timeout=(float(timeout) if timeout else MAX_TIMEOUT) + 60)
        if not proc.stdout.strip():
            raise AgentjailError(f"agentjail printed no report (exit {proc.returncode}): "
                                 f"{proc.stderr.decode(errors='replace').strip()}")
        report = json.loads(proc.stdout)
        # Read before the temporary directory goes (an output_dir is the caller's and stays).
        kept = (report.get("workspace") or {}).get("kept")
        report["output_files"], report["output_files_omitted"] = _read_outputs(changes) if kept else ({}, [])
        if kept and not output_dir:
            report["workspace"]["kept"] = None  # removed below: the contents are in output_files
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return report


def _head_and_tail(text):
    """The first STREAM_HEAD and last STREAM_TAIL bytes of `text`, with the count of the bytes
    between them that were left out: (text, elided bytes)."""
    data = (text or "").encode("utf-8")
    if len(data) <= STREAM_HEAD + STREAM_TAIL:
        return text or "", 0
    elided = len(data) - STREAM_HEAD - STREAM_TAIL
    head = data[:STREAM_HEAD].decode("utf-8", errors="ignore")
    tail = data[-STREAM_TAIL:].decode("utf-8", errors="ignore")
    return f"{head}\n[... {elided} bytes elided ...]\n{tail}", elided


def tool_result_text(report):
    """The tool's answer for the model, as compact JSON: what happened, the head and tail of each
    stream (the count of bytes left out between them), the files written, never their content."""
    answer = {
        "status": report["status"],
        "exit_code": report["exit_code"],
        "signal": report["signal"],
    }
    notes = []
    for stream in ("stdout", "stderr"):
        answer[stream], elided = _head_and_tail(report.get(stream))
        if elided:
            answer[f"{stream}_elided_bytes"] = elided
        if report.get(f"{stream}_truncated"):
            notes.append(f"{stream} was cut off at the sandbox's output limit")
    changes = (report.get("workspace") or {}).get("changes") or []
    if changes:
        answer["files"] = [{"path": c["path"], "change": c["change"], "bytes": c["bytes"]} for c in changes]
    if report["status"] in ("timeout", "cpu_limit", "memory_limit", "pids_limit"):
        notes.append(f"the program hit a sandbox limit: {report['status']}")
    if notes:
        answer["note"] = "; ".join(notes)
    if report["violations"]:
        answer["blocked_syscalls"] = sorted({v["syscall"] for v in report["violations"]})
    if report["error"]:
        answer["error"] = report["error"]
    return json.dumps(answer)


if __name__ == "__main__":
    print(json.dumps(run_code('print("hello from the jail")'), indent=2))
