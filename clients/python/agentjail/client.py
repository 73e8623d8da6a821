"""Sandbox: run commands in agentjail, through `agentjail serve` or the agentjail CLI.

Standard library only. With a server socket (given, or $AGENTJAIL_SOCKET) that answers, each
run is one POST /v1/runs; otherwise each run is one `agentjail run --json` (see
agentjail-serve(1) and agentjail(1)).
"""
import base64
import dataclasses
import http.client
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from typing import Dict, List, Optional, Sequence, Union

DEFAULT_SOCKET = "/run/agentjail/agentjail.sock"
MAX_COLLECTED = 64 << 20  # bytes read back per collected file on the CLI path

# language -> (policy, argv before the code)
LANGUAGES = {
    "python": ("python", ["python3", "-c"]),
    "node": ("node", ["node", "-e"]),
    "shell": ("shell", ["/bin/sh", "-c"]),
}

FileContent = Union[str, bytes]


class SandboxError(Exception):
    """Base of the errors this client raises."""


class RequestError(SandboxError):
    """The server refused the request: its HTTP status and one-line message."""

    def __init__(self, status: int, message: str, retry_after: Optional[float] = None):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


class AgentjailError(SandboxError):
    """agentjail could not be run, or printed no report."""


@dataclasses.dataclass
class Violation:
    """A system call the jail's filter refused."""
    syscall: str
    nr: int
    args: List[int]
    pid: int
    action: str
    count: int = 1


@dataclasses.dataclass
class RunResult:
    """What happened to one run: the report's fields (agentjail(1), THE REPORT), typed."""
    id: str
    status: str  # ok, exit, signal, timeout, cpu_limit, memory_limit, pids_limit, seccomp, setup_error
    exit_code: Optional[int]
    signal: Optional[str]
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    wall_time_ms: Optional[float]
    violations: List[Violation]
    warnings: List[str]
    error: Optional[str]
    files: Dict[str, Optional[FileContent]]  # collected: str when UTF-8 text, bytes otherwise, None when absent
    raw: dict  # the whole report as agentjail printed it

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def from_report(cls, report: dict, files: Optional[Dict[str, Optional[FileContent]]] = None) -> "RunResult":
        decoded = files if files is not None else {
            path: _decode_file(value) for path, value in (report.get("files") or {}).items()}
        return cls(
            id=report.get("id", ""),
            status=report.get("status", ""),
            exit_code=report.get("exit_code"),
            signal=report.get("signal"),
            stdout=report.get("stdout") or "",
            stderr=report.get("stderr") or "",
            stdout_truncated=bool(report.get("stdout_truncated")),
            stderr_truncated=bool(report.get("stderr_truncated")),
            wall_time_ms=report.get("wall_time_ms"),
            violations=[Violation(v.get("syscall", ""), v.get("nr", 0), list(v.get("args") or []), v.get("pid", 0),
                                  v.get("action", ""), v.get("count", 1)) for v in report.get("violations") or []],
            warnings=list(report.get("warnings") or []),
            error=report.get("error"),
            files=decoded,
            raw=report,
        )


def _decode_file(value):
    if isinstance(value, dict) and "base64" in value:
        return base64.b64decode(value["base64"])
    return value


def _encode_file(content: FileContent):
    if isinstance(content, str):
        return content
    try:
        return bytes(content).decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(bytes(content)).decode("ascii")}


def _check_path(path: str) -> List[str]:
    """The components of an absolute, normalized path (as the server requires)."""
    parts = path.split("/")[1:] if path.startswith("/") else None
    if not parts or "\0" in path or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{path!r} must be an absolute path without '.', '..' or '//' components")
    return parts


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _server_answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(path)
        return True
    except OSError:
        return False


class Sandbox:
    """Runs commands in agentjail jails.

    Sandbox(socket=PATH) talks to `agentjail serve` on PATH (an error when it does not answer).
    Sandbox() uses $AGENTJAIL_SOCKET or /run/agentjail/agentjail.sock when a server answers
    there, and otherwise runs `agentjail run --json` itself ($AGENTJAIL or `agentjail` on PATH).
    `policy` is the default policy of run() (the server's default when None).
    """

    def __init__(self, socket: Optional[str] = None, *, policy: Optional[str] = None,
                 agentjail: Optional[str] = None, request_timeout: float = 600):
        self.policy = policy
        self.agentjail = agentjail or os.environ.get("AGENTJAIL", "agentjail")
        self.request_timeout = request_timeout
        if socket is not None:
            self.socket = socket
        else:
            candidate = os.environ.get("AGENTJAIL_SOCKET", DEFAULT_SOCKET)
            self.socket = candidate if _server_answers(candidate) else None

    @property
    def mode(self) -> str:
        """"server" or "cli": how runs are made."""
        return "server" if self.socket else "cli"

    def run(self, argv: Sequence[str], *, stdin: Optional[FileContent] = None,
            files: Optional[Dict[str, FileContent]] = None, collect: Optional[Sequence[str]] = None,
            timeout: Optional[float] = None, env: Optional[Dict[str, str]] = None,
            policy: Optional[str] = None, limits: Optional[dict] = None) -> RunResult:
        """Runs argv (no shell) in a fresh jail.

        files: absolute path in the jail -> text or bytes, written before the command starts.
        collect: absolute paths read back afterwards (RunResult.files). timeout: seconds of wall
        time (at most the policy's). limits: more of the policy's [limits] keys, only lower.
        """
        argv = [str(word) for word in argv]
        if not argv or not argv[0]:
            raise ValueError("argv must name a program")
        for path in list(files or {}) + list(collect or []):
            _check_path(path)
        limits = dict(limits or {})
        if timeout is not None:
            if not timeout > 0:
                raise ValueError("timeout must be a positive number of seconds")
            limits["wall_time"] = f"{int(round(float(timeout) * 1000))}ms"
        policy = policy or self.policy
        if self.socket:
            return self._run_server(argv, stdin, files, collect, env, policy, limits, timeout)
        return self._run_cli(argv, stdin, files, collect, env, policy, limits, timeout)

    def run_code(self, code: str, language: str = "python", *, stdin: Optional[FileContent] = None,
                 files: Optional[Dict[str, FileContent]] = None, collect: Optional[Sequence[str]] = None,
                 timeout: Optional[float] = None, policy: Optional[str] = None) -> RunResult:
        """Runs a Python, Node.js or shell program, under the built-in policy of its language
        unless `policy` says otherwise."""
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
        default_policy, prefix = LANGUAGES[language]
        return self.run(prefix + [code], stdin=stdin, files=files, collect=collect, timeout=timeout,
                        policy=policy or default_policy)

    # --- through agentjail serve -------------------------------------------------------------

    def _run_server(self, argv, stdin, files, collect, env, policy, limits, timeout) -> RunResult:
        body = {"command": argv}
        if policy:
            body["policy"] = policy
        if stdin is not None:
            body["stdin"] = _encode_file(stdin)
        if env:
            body["env"] = dict(env)
        if files:
            body["files"] = {path: _encode_file(content) for path, content in files.items()}
        if collect:
            body["collect"] = list(collect)
        if limits:
            body["limits"] = limits
        report = self._post("/v1/runs", body, (timeout or 0) + self.request_timeout)
        return RunResult.from_report(report)

    def _post(self, path: str, body: dict, timeout: float) -> dict:
        connection = _UnixHTTPConnection(self.socket, timeout)
        try:
            try:
                connection.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                data = response.read()
            except OSError as e:
                raise SandboxError(f"agentjail serve at {self.socket}: {e}") from e
        finally:
            connection.close()
        try:
            answer = json.loads(data) if data else {}
        except ValueError:
            answer = {"error": data.decode("utf-8", "replace")[:200]}
        if response.status != 200:
            retry = response.getheader("Retry-After")
            raise RequestError(response.status, answer.get("error", "no message"), float(retry) if retry else None)
        return answer

    def health(self) -> dict:
        """GET /v1/health of the server."""
        if not self.socket:
            raise SandboxError("no agentjail server: this Sandbox runs the CLI")
        connection = _UnixHTTPConnection(self.socket, 30)
        try:
            connection.request("GET", "/v1/health")
            return json.loads(connection.getresponse().read())
        finally:
            connection.close()

    # --- through the agentjail CLI -----------------------------------------------------------

    def _run_cli(self, argv, stdin, files, collect, env, policy, limits, timeout) -> RunResult:
        command = [self.agentjail, "run", "--json"]
        if policy:
            command += ["--policy", policy]
        for key, value in limits.items():
            option = {"wall_time": "--time", "cpu_time": "--cpu-time", "memory": "--memory", "pids": "--pids"}.get(key)
            if option is None:
                raise ValueError(f"limits.{key} cannot be set through the CLI (wall_time, cpu_time, memory, pids)")
            command += [option, str(value)]
        for name, value in (env or {}).items():
            command += ["--env", f"{name}={value}"]
        # files and collect: one temporary host directory per top-level directory they name,
        # bound read-write at that directory (agentjail run --rw; a -w/--workspace option will
        # make this one bind).
        binds = {}
        for path in list(files or {}) + list(collect or []):
            parts = _check_path(path)
            if len(parts) < 2:
                raise ValueError(f"{path!r}: on the CLI path, files and collected paths must be inside a directory "
                                 "(such as /work/a.py)")
            if parts[0] in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "etc", "proc", "dev", "sys"):
                raise ValueError(f"{path!r}: /{parts[0]} is the system's, not a place for files")
            binds.setdefault(parts[0], None)
        scratch = tempfile.mkdtemp(prefix="agentjail-client-") if binds else None
        try:
            for top in binds:
                binds[top] = os.path.join(scratch, top)
                os.mkdir(binds[top], 0o700)
            for path, content in (files or {}).items():
                parts = _check_path(path)
                host = os.path.join(binds[parts[0]], *parts[1:])
                os.makedirs(os.path.dirname(host), exist_ok=True)
                with open(host, "wb") as f:
                    f.write(content.encode("utf-8") if isinstance(content, str) else bytes(content))
            if scratch and os.geteuid() == 0:
                self._hand_over(scratch, policy)
            for top, host in binds.items():
                command += ["--rw", f"{host}:/{top}"]
            command += ["--"] + argv
            data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
            try:
                proc = subprocess.run(command, input=data if data is not None else b"", capture_output=True,
                                      timeout=(timeout or 0) + self.request_timeout)
            except FileNotFoundError as e:
                raise AgentjailError(f"{self.agentjail}: not found (set AGENTJAIL or PATH)") from e
            if not proc.stdout.strip():
                raise AgentjailError(f"agentjail printed no report (exit {proc.returncode}): "
                                     f"{proc.stderr.decode('utf-8', 'replace').strip()}")
            report = json.loads(proc.stdout)
            collected = None
            if collect:
                collected = {}
                for path in collect:
                    parts = _check_path(path)
                    collected[path] = _read_inside(binds[parts[0]], parts[1:])
            return RunResult.from_report(report, collected)
        finally:
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)

    def _hand_over(self, scratch, policy):
        """Run by root, the jail is an unprivileged host uid: give it the directories, nobody else.
        Without process.host_user and host_group the jail's uid is leased for the run and not
        known before it: the directories and files are then opened to everyone instead, below
        the scratch directory (0700), which no other user of the host can enter; the jail gets
        them bound directly."""
        proc = subprocess.run([self.agentjail, "check", "--json", "-p", policy or "default"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise AgentjailError(f"agentjail check -p {policy or 'default'}: {proc.stderr.strip()}")
        process = json.loads(proc.stdout)["process"]
        uid, gid = process["host_user"], process["host_group"]
        known = uid is not None and gid is not None
        os.chmod(scratch, 0o711 if known else 0o700)
        for root, dirs, names in os.walk(scratch):
            for name in dirs + names:
                path = os.path.join(root, name)
                if known:
                    os.lchown(path, uid, gid)
                elif not os.path.islink(path):
                    os.chmod(path, 0o777 if os.path.isdir(path) else 0o666)


def _read_inside(base: str, parts: List[str]) -> Optional[FileContent]:
    """A file the jail may have written, read without following any symlink it made (one could
    point at a host file this process can read); None unless it is a regular file."""
    flags_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(base, flags_dir)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, flags_dir, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        os.close(fd)
        return None
    os.close(fd)
    try:
        st = os.fstat(file_fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        chunks, total = [], 0
        while total <= MAX_COLLECTED:
            chunk = os.read(file_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > MAX_COLLECTED:
            raise SandboxError(f"collected file {'/'.join(parts)} is larger than {MAX_COLLECTED} bytes")
        data = b"".join(chunks)
    finally:
        os.close(file_fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data
