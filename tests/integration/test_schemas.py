"""schemas/*.schema.json describe what the binary really prints: real reports of every status
(in both output modes) validate against report.schema.json, `agentjail check --json` of every
built-in policy validates against policy.schema.json, and the schemas reject what they must."""
import copy
import json
import os
import subprocess
import tempfile
import textwrap

import pytest

from conftest import AGENTJAIL, SOURCE_DIR, measures_own_memory, requires_userns, run

jsonschema = pytest.importorskip("jsonschema", reason="python3-jsonschema is not installed")

SCHEMA_DIR = os.path.join(SOURCE_DIR, "schemas")
CAPTURE_FIELDS = {"stdout", "stderr", "stdout_bytes", "stderr_bytes", "stdout_truncated", "stderr_truncated"}


def load_schema(name):
    with open(os.path.join(SCHEMA_DIR, name)) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


REPORT = load_schema("report.schema.json")
POLICY = load_schema("policy.schema.json")


def assert_valid(validator, document):
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10]) + \
        "\n" + json.dumps(document, indent=1)[:3000]


def builtin_names():
    """The built-in policies, from the repository (test_docs checks `agentjail policies` lists them)."""
    return sorted(name[:-5] for name in os.listdir(os.path.join(SOURCE_DIR, "policies")) if name.endswith(".toml"))


def check_json(policy):
    proc = subprocess.run([AGENTJAIL, "check", "--json", "-p", policy], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def write_policy(text):
    fd, path = tempfile.mkstemp(suffix=".toml", prefix="aj-schema-")
    with os.fdopen(fd, "w") as f:
        f.write(textwrap.dedent(text))
    os.chmod(path, 0o644)
    return path


# --- policy.schema.json ---------------------------------------------------------------------

@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_policy_matches_policy_schema(name):
    assert_valid(POLICY, check_json(name))


def test_policy_using_every_key_matches_policy_schema():
    path = write_policy("""\
        version = 1
        name = "everything"
        description = "every key set away from its default"
        extends = "shell"
        audit_log = "/var/log/agentjail.log"

        [process]
        cwd = "/tmp"
        hostname = "box"
        user = 0
        group = 0
        host_user = 1000
        host_group = 1000
        env = { A = "1" }
        pass_env = ["TERM", "LANG"]
        new_session = false
        umask = "077"

        [workspace]
        source = "/tmp"
        target = "/src"
        mode = "overlay"
        keep_changes = "/tmp/agentjail-kept"

        [limits]
        wall_time = "unlimited"
        cpu_time = 1.5
        memory = "unlimited"
        pids = "unlimited"
        cpus = 0.5
        file_size = "unlimited"
        open_files = "unlimited"
        stack = "unlimited"
        core_size = "1MiB"
        output = 0

        [filesystem]
        remove = ["/tmp"]

        [[filesystem.mount]]
        type = "tmpfs"
        target = "/tmp"
        read_only = true
        exec = false

        [[filesystem.mount]]
        type = "bind"
        source = "/etc/os-release"
        target = "/etc/os-release"
        read_only = false
        optional = true

        [network]
        mode = "host"

        [seccomp]
        default_action = "log"
        errno = 38
        allow = ["@default", "@numa"]
        deny = ["@network", "uname"]
        notify = false

        [capabilities]
        keep = ["CHOWN", "NET_BIND_SERVICE"]

        [namespaces]
        ipc = false
        uts = false
    """)
    try:
        policy = check_json(path)
    finally:
        os.unlink(path)
    assert_valid(POLICY, policy)
    assert policy["namespaces"]["net"] is False and policy["limits"]["memory_bytes"] is None
    assert {m["target"]: m for m in policy["filesystem"]["mount"]}["/tmp"]["size_bytes"] is None


def test_policy_schema_rejects_what_the_engine_rejects():
    good = check_json("ci")
    bad_documents = []
    for mutate in (
        lambda p: p["process"].__setitem__("host_user", 0),
        lambda p: p["limits"].pop("pids"),
        lambda p: p.__setitem__("extends", "default"),
        lambda p: p["network"].__setitem__("mode", "bridge"),
        lambda p: p["capabilities"]["keep"].append("SYS_ADMIN"),
        lambda p: p["filesystem"]["mount"][0].__setitem__("size_bytes", 1),
        lambda p: p["filesystem"]["mount"][0].__setitem__("target", "/usr/../etc"),
        lambda p: p["namespaces"].__setitem__("net", False),
    ):
        document = copy.deepcopy(good)
        mutate(document)
        bad_documents.append(document)
    for document in bad_documents:
        assert not POLICY.is_valid(document), json.dumps(document)[:500]


# --- report.schema.json ---------------------------------------------------------------------

def run_both_modes(*args, **kwargs):
    """The same run in pass-through mode (--report) and capture mode (--json)."""
    plain = run(*args, **kwargs)
    captured = run(*args, json_mode=True, **kwargs)
    assert plain.report is not None, plain
    assert captured.report is not None, captured
    return plain.report, captured.report


def check_report(report, captured):
    assert_valid(REPORT, report)
    if captured:
        assert CAPTURE_FIELDS <= set(report)
    else:
        assert not CAPTURE_FIELDS & set(report)


@requires_userns
@pytest.mark.parametrize("status, command, options", [
    ("ok", ["/bin/sh", "-c", "echo out; echo err >&2"], []),
    ("exit", ["/bin/sh", "-c", "exit 3"], []),
    ("exit", ["no-such-command-anywhere"], []),
    ("signal", ["/bin/sh", "-c", "kill -SEGV $$"], []),
    ("timeout", ["/bin/sleep", "30"], ["--time", "300ms"]),
])
def test_reports_match_report_schema(status, command, options):
    for captured, report in zip((False, True), run_both_modes(*command, policy="shell", options=options)):
        assert report["status"] == status, report
        check_report(report, captured)


@requires_userns
def test_setup_error_report_matches_report_schema():
    # A bind of a missing path fails while building the jail, after the report has begun.
    for captured, report in zip((False, True), run_both_modes(
            "/bin/true", policy="shell", options=["--ro", "/no/such/path/anywhere:/x"])):
        assert report["status"] == "setup_error" and report["error"], report
        check_report(report, captured)


def test_bad_policy_report_matches_report_schema():
    # The policy cannot even be loaded: policy.source and policy.sha256 are empty.
    r = run("/bin/true", policy="/no/such/policy.toml", json_mode=True)
    assert r.code == 125 and r.report is not None, r
    assert r.report["status"] == "setup_error"
    check_report(r.report, True)


@pytest.mark.parametrize("arguments", [
    ["--bogus", "--", "/bin/true"],      # an option run does not have
    ["--net", "--", "/bin/true"],        # an option without its value
    ["/bin/true"],                       # the command without --
])
def test_bad_command_line_with_json_still_reports(arguments):
    # SPEC §4: in --json mode a run that fails before the command starts still prints a report.
    proc = subprocess.run([AGENTJAIL, "run", "--json", *arguments], capture_output=True, text=True)
    assert proc.returncode == 125, proc
    report = json.loads(proc.stdout)
    assert report["status"] == "setup_error" and report["error"], report
    check_report(report, True)
    assert proc.stderr.count("agentjail: ") == 1 and report["error"] in proc.stderr, proc.stderr


@requires_userns
def test_seccomp_kill_report_matches_report_schema():
    path = write_policy("""\
        version = 1
        extends = "shell"
        [seccomp]
        default_action = "kill"
        deny = ["uname"]
    """)
    try:
        reports = run_both_modes("/usr/bin/uname", policy=path)
    finally:
        os.unlink(path)
    for captured, report in zip((False, True), reports):
        assert report["status"] == "seccomp" and report["signal"] == "SIGSYS", report
        check_report(report, captured)


LIMIT_KEYS = {"memory_limit": "memory", "pids_limit": "pids", "cpu_limit": "cpu"}


def limit_report(status, command, options, policy="python"):
    """A report of a run that should hit a cgroup limit, or skip when this host says (in the
    report's warnings) that it cannot enforce that limit with a cgroup."""
    plain, captured = run_both_modes(*command, policy=policy, options=options)
    if plain["status"] != status:
        weaker = [w for w in plain["warnings"] if LIMIT_KEYS[status] in w]
        if plain["enforcement"]["cgroup"] == "none" or weaker:
            pytest.skip(f"this host does not enforce {LIMIT_KEYS[status]} with a cgroup: {weaker}")
        pytest.fail(f"expected {status}: {json.dumps(plain)[:2000]}")
    return plain, captured


@requires_userns
@measures_own_memory
def test_memory_limit_report_matches_report_schema():
    reports = limit_report("memory_limit", ["python3", "-c", "b = bytearray(512 << 20); b[::4096] = b'x' * (len(b) // 4096)"],
                           ["--memory", "64MiB"])
    for captured, report in zip((False, True), reports):
        check_report(report, captured)


@requires_userns
def test_pids_limit_report_matches_report_schema():
    reports = limit_report("pids_limit",
                           ["python3", "-c", "import os\nfor _ in range(64):\n    os.fork() or os._exit(os.pause() or 0)"],
                           ["--pids", "8"])
    for captured, report in zip((False, True), reports):
        check_report(report, captured)


@requires_userns
def test_cpu_limit_report_matches_report_schema():
    reports = limit_report("cpu_limit", ["python3", "-c", "while True: pass"], ["--cpu-time", "500ms", "--time", "20s"])
    for captured, report in zip((False, True), reports):
        check_report(report, captured)


@requires_userns
def test_report_schema_rejects_incomplete_reports():
    failed = run("/bin/true", policy="shell", options=["--ro", "/no/such/path/anywhere:/x"], json_mode=True).report
    ok = run("/bin/true", policy="shell", json_mode=True).report
    assert REPORT.is_valid(failed) and REPORT.is_valid(ok)
    for mutate in (
        lambda d: d.pop("stdout"),                        # capture fields: all six or none
        lambda d: d.pop("stderr_truncated"),
        lambda d: d.__setitem__("exit_code", 1),          # ok means exit code 0
        lambda d: d.__setitem__("signal", "SIGKILL"),     # ... and no signal
    ):
        document = copy.deepcopy(ok)
        mutate(document)
        assert not REPORT.is_valid(document), json.dumps(document)[:500]
    good = failed
    mutations = [
        lambda d: d.pop("violations_dropped"),
        lambda d: d.pop("error"),
        lambda d: d.__setitem__("status", "crashed"),
        lambda d: d.__setitem__("error", None),           # setup_error needs its message
        lambda d: d.__setitem__("exit_code", 0),          # setup_error has no exit code
        lambda d: d.__setitem__("extra", 1),
        lambda d: d["violations"].append({"syscall": "socket", "nr": 41, "args": [], "pid": 2, "action": "errno"}),
    ]
    for mutate in mutations:
        document = copy.deepcopy(good)
        mutate(document)
        assert not REPORT.is_valid(document), json.dumps(document)[:500]
