"""The documentation agrees with the binary: every command and option `--help` lists and every
policy key `agentjail check --json` prints is in the man pages, every syscall set and built-in
policy is in agentjail-policy(5), the policies the docs show pass `agentjail check`, the man
pages build with scdoc, and the README starts with the two commands it must."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import AGENTJAIL, SOURCE_DIR

MAN_DIR = os.path.join(SOURCE_DIR, "man")
COMMANDS = ["run", "check", "policies", "doctor", "seccomp", "serve", "mcp", "ci"]
SERVE_COMMANDS = {"serve", "mcp"}  # their options are in agentjail-serve(1)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


PAGE1 = read(os.path.join(MAN_DIR, "agentjail.1.scd"))
PAGE5 = read(os.path.join(MAN_DIR, "agentjail-policy.5.scd"))
PAGE_SERVE = read(os.path.join(MAN_DIR, "agentjail-serve.1.scd"))


def agentjail(*args):
    proc = subprocess.run([AGENTJAIL, *args], capture_output=True, text=True)
    assert proc.returncode == 0, (args, proc.stderr)
    return proc.stdout


def help_options(*command):
    """Long and short options from CLI11's --help: the OPTIONS section's first column."""
    text = agentjail(*command, "--help")
    options = set()
    section = None
    for line in text.splitlines():
        if re.match(r"^[A-Za-z][A-Za-z ]*:$", line):  # CLI11 section titles: "Options:" (or "OPTIONS:")
            section = line.rstrip(":").lower()
            continue
        if section == "options" and line.startswith("  "):
            # "-w,--workspace SRC..." or "--json": the names before the first space (a value's
            # type and a description that happen to follow with one space are not options).
            names = re.match(r"\s*((?:--?[A-Za-z][\w-]*,?)+)(?:\s|$)", line)
            if names:
                options.update(re.findall(r"--?[A-Za-z][\w-]*", names.group(1)))
    assert "-h" in options and "--help" in options, text
    return options


def subcommands_in_help():
    text = agentjail("--help")
    match = re.search(r"^(?:SUBCOMMANDS|Subcommands):\n((?:  .*\n?)+)", text, re.M)
    assert match, text
    return {line.split()[0] for line in match.group(1).splitlines() if line.strip()}


def bold(page, word):
    """True when `word` appears in bold (*word*, possibly with more inside the asterisks)."""
    return re.search(r"\*[^*\n]*" + re.escape(word) + r"(?![\w-])[^*\n]*\*", page) is not None


def test_every_subcommand_is_documented():
    commands = subcommands_in_help()
    assert commands == set(COMMANDS), commands
    for command in commands:
        assert re.search(rf"^\*{command}\*", PAGE1, re.M), f"agentjail(1) lacks a COMMANDS entry for {command}"


def test_global_options_are_documented():
    for option in help_options():
        assert bold(PAGE1, option), f"agentjail(1) does not document {option}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_is_documented(command):
    options = help_options(command)
    page, name = (PAGE_SERVE, "agentjail-serve(1)") if command in SERVE_COMMANDS else (PAGE1, "agentjail(1)")
    for option in options - {"-h", "--help"}:
        assert bold(page, option), f"{name} does not document `agentjail {command} {option}`"
    if command == "run":
        section = PAGE1.split("# RUN OPTIONS", 1)[1].split("\n# ", 1)[0]
        for option in options - {"-h", "--help"}:
            assert option in section, f"RUN OPTIONS lacks {option}"


@pytest.mark.parametrize("command", ["config", "prepare", "run", "cleanup"])
def test_every_ci_gitlab_option_is_documented(command):
    section = PAGE1.split("# CI DRIVERS", 1)[1].split("\n# ", 1)[0]
    for option in help_options("ci", "gitlab", command) - {"-h", "--help"}:
        assert bold(section, option), f"agentjail(1) CI DRIVERS does not document `agentjail ci gitlab {command} {option}`"


COMPLETIONS = {name: read(os.path.join(SOURCE_DIR, "completions", name))
               for name in ("agentjail.bash", "_agentjail", "agentjail.fish")}


def completion_knows(name, option):
    text = COMPLETIONS[name]
    if name == "agentjail.fish":  # -l NAME / -s N
        flag = "-l " + option[2:] if option.startswith("--") else "-s " + option[1:]
        return re.search(re.escape(flag) + r"(?![\w-])", text) is not None
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


@pytest.mark.parametrize("shell", sorted(COMPLETIONS))
def test_completions_know_every_command_and_option(shell):
    # The completions are written by hand: a new option or command must reach all three shells.
    text = COMPLETIONS[shell]
    for command in COMMANDS:
        assert re.search(rf"(?<![\w-]){command}(?![\w-])", text), f"{shell} does not complete the command {command}"
        for option in help_options(command) - {"-h", "--help"}:
            assert completion_knows(shell, option), f"{shell} does not complete `agentjail {command} {option}`"
    for stage in ("config", "prepare", "run", "cleanup"):
        for option in help_options("ci", "gitlab", stage) - {"-h", "--help"}:
            assert completion_knows(shell, option), f"{shell} does not complete `agentjail ci gitlab {stage} {option}`"


def test_documented_run_options_exist():
    """The other direction: an option the man page promises must exist."""
    section = PAGE1.split("# RUN OPTIONS", 1)[1].split("\n# ", 1)[0]
    documented = set(re.findall(r"^\*(--?[\w-]+)\*", section, re.M))
    documented |= set(re.findall(r"^\*-\w\*, \*(--[\w-]+)\*", section, re.M))
    assert documented - help_options("run") == set()


def policy_keys(document, prefix=""):
    """(dotted key, is_table) of `check --json`, with JSON unit suffixes mapped back to TOML names."""
    keys = set()
    for key, value in document.items():
        dotted = prefix + re.sub(r"_(ms|bytes)$", "", key)
        if key == "env":
            keys.add((dotted, False))  # an inline table whose keys are variable names, not policy keys
            continue
        if isinstance(value, dict):
            keys.add((dotted, True))
            keys |= policy_keys(value, dotted + ".")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            keys.add((dotted, True))  # an array of tables: [[filesystem.mount]]
            for item in value:
                keys |= policy_keys(item, dotted + ".")
        else:
            keys.add((dotted, False))
    return keys


def test_every_policy_key_is_documented():
    keys = set()
    for name in ("default", "python", "node", "shell", "ci"):
        keys |= policy_keys(json.loads(agentjail("check", "--json", "-p", name)))
    names = {dotted for dotted, _ in keys}
    assert {"limits.wall_time", "filesystem.mount.target", "filesystem.mount.size", "seccomp.errno"} <= names
    for dotted, is_table in sorted(keys):
        if is_table:
            assert f"[{dotted}]" in PAGE5, f"agentjail-policy(5) has no [{dotted}] section"
        else:
            assert bold(PAGE5, dotted.rpartition(".")[2]), f"agentjail-policy(5) does not document {dotted}"
    # check --json uses units in its names; the page says how they map.
    for json_name in ("wall_time_ms", "memory_bytes", "size_bytes"):
        assert json_name in PAGE5


def test_keys_the_parser_takes_but_check_does_not_print_are_documented():
    for key in ("extends", "remove", "host_user", "host_group", "audit_log"):
        assert bold(PAGE5, key), key


def test_every_syscall_set_is_documented():
    text = agentjail("seccomp", "--sets")
    sets = re.findall(r"^(@[\w-]+)", text, re.M)
    assert "@default" in sets and len(sets) >= 5, text
    for name in sets:
        assert bold(PAGE5, name), f"agentjail-policy(5) does not document {name}"
    denied = text.split("Always refused", 1)[1].split("\n\n", 1)[0]
    for name in re.findall(r"^\s+([a-z_0-9]+):", denied, re.M):
        assert name in PAGE5, f"agentjail-policy(5) does not name the always-refused {name}"


def test_every_builtin_policy_is_documented():
    names = [line.split()[0] for line in agentjail("policies").splitlines() if line.strip()]
    in_repo = sorted(n[:-5] for n in os.listdir(os.path.join(SOURCE_DIR, "policies")) if n.endswith(".toml"))
    assert sorted(names) == in_repo
    section = PAGE5.split("# BUILT-IN POLICIES", 1)[1].split("\n# ", 1)[0]
    for name in names:
        assert re.search(rf"^\*{name}\*$", section, re.M), f"agentjail-policy(5) does not describe {name}"


def test_exit_codes_are_documented():
    section = PAGE1.split("# EXIT STATUS", 1)[1].split("\n# ", 1)[0]
    for code in ("124", "125", "126", "127", "128+N"):
        assert code in section
    footer = agentjail("run", "--help")
    for code in ("124", "125", "126", "127"):
        assert code in footer


def test_report_fields_are_documented():
    r = subprocess.run([AGENTJAIL, "run", "--json", "-p", "/no/such/policy.toml", "--", "true"],
                       capture_output=True, text=True)
    report = json.loads(r.stdout)
    section = PAGE1.split("# THE REPORT", 1)[1].split("\n# ", 1)[0]
    for field in report:
        assert bold(section, field), f"THE REPORT does not describe {field}"
    for field in ("stdout", "stderr", "stdout_bytes", "stderr_bytes", "stdout_truncated", "stderr_truncated"):
        assert field in section


def toml_blocks(text):
    return [block for block in re.findall(r"```\n(.*?)```", text, re.S) if "version = 1" in block]


def check_policy_text(text, name):
    directory = tempfile.mkdtemp(prefix="aj-docs-")
    try:
        path = os.path.join(directory, name + ".toml")
        with open(path, "w") as f:
            f.write(text)
        proc = subprocess.run([AGENTJAIL, "check", "-p", path], capture_output=True, text=True)
        assert proc.returncode == 0, f"{name}:\n{text}\n{proc.stderr}"
        # check printed the policy it read, the base it extends merged in.
        assert proc.stdout.startswith("version = 1\n") and "[limits]" in proc.stdout, proc.stdout[:2000]
    finally:
        shutil.rmtree(directory)


def test_policies_in_the_man_page_pass_check():
    blocks = toml_blocks(PAGE5)
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        check_policy_text(block, f"man5-example-{i}")


def test_policy_in_the_readme_passes_check():
    readme = read(os.path.join(SOURCE_DIR, "README.md"))
    match = re.search(r"\$ cat analysis.toml\n((?:    .*\n|\n)+?)\nCheck", readme)
    assert match, "README's analysis.toml example not found"
    text = "\n".join(line[4:] for line in match.group(1).splitlines())
    check_policy_text(text, "analysis")


def test_readme_starts_with_the_two_commands():
    lines = read(os.path.join(SOURCE_DIR, "README.md")).splitlines()
    assert [line.strip() for line in lines[:4]] == [
        "# Install the dependencies, build, and run a real jailed example:",
        "scripts/install-deps.sh && cmake -S . -B build -G Ninja && cmake --build build && "
        "./build/agentjail run -p python -- python3 -c 'print(\"hello from the jail\")'",
        "# Run every test (unit, integration, and the cgroup-v2 VM):",
        "scripts/test.sh",
    ]


@pytest.mark.skipif(shutil.which("scdoc") is None, reason="scdoc is not installed")
@pytest.mark.parametrize("page", ["agentjail.1.scd", "agentjail-policy.5.scd", "agentjail-serve.1.scd"])
def test_man_page_builds_and_renders_cleanly(page):
    with open(os.path.join(MAN_DIR, page), "rb") as source:
        roff = subprocess.run(["scdoc"], stdin=source, capture_output=True)
    assert roff.returncode == 0, roff.stderr
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed: built, not rendered")
    rendered = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=roff.stdout, capture_output=True)
    assert rendered.returncode == 0 and not rendered.stderr, rendered.stderr.decode()
