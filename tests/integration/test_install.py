"""Installation: `cmake --install` into a fresh prefix puts the binary, policies, man pages,
completions, schemas and docs in their standard places (and nothing refers to the build tree);
the installed completions work in bash, zsh and fish with the installed binary; and
scripts/build-deb.sh builds a .deb that lintian accepts, with the same files under /usr."""
import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import AGENTJAIL, SOURCE_DIR

BUILD_DIR = os.path.dirname(os.path.abspath(AGENTJAIL))
BUILTINS = sorted(n[:-5] for n in os.listdir(os.path.join(SOURCE_DIR, "policies")) if n.endswith(".toml"))

# Relative to the prefix; zsh's directory is the CMake default (packaging sets vendor-completions).
EXPECTED = [
    "bin/agentjail",
    "share/man/man1/agentjail.1",
    "share/man/man5/agentjail-policy.5",
    "share/man/man1/agentjail-serve.1",
    "share/bash-completion/completions/agentjail",
    "share/zsh/site-functions/_agentjail",
    "share/fish/vendor_completions.d/agentjail.fish",
    "share/agentjail/schemas/report.schema.json",
    "share/agentjail/schemas/policy.schema.json",
    "share/doc/agentjail/README.md",
    "share/doc/agentjail/examples/python/agentjail_tool.py",
    "share/doc/agentjail/examples/kubernetes/agentjail-job.yaml",
    "share/doc/agentjail/examples/ci/github-actions.yml",
    "share/agentjail/ci/github/index.js",
    "share/agentjail/ci/buildkite/command",
] + [f"share/agentjail/policies/{name}.toml" for name in BUILTINS]


@pytest.fixture(scope="module")
def prefix():
    if not os.path.exists(os.path.join(BUILD_DIR, "CMakeCache.txt")):
        pytest.fail(f"{BUILD_DIR} is not a CMake build directory (AGENTJAIL={AGENTJAIL})")
    # The man pages are part of `all`; build them in case only the binary was built.
    subprocess.run(["cmake", "--build", BUILD_DIR, "--target", "man"], check=True, capture_output=True)
    path = tempfile.mkdtemp(prefix="aj-prefix-")
    try:
        proc = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", path], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        yield path
    finally:  # also when the install failed: pytest retries a failed fixture for every test
        shutil.rmtree(path, ignore_errors=True)


def installed_files(root):
    found = set()
    for directory, _, files in os.walk(root):
        for name in files:
            found.add(os.path.relpath(os.path.join(directory, name), root))
    return found


def test_install_tree(prefix):
    files = installed_files(prefix)
    missing = [path for path in EXPECTED if path not in files]
    assert not missing, f"missing {missing}; installed {sorted(files)}"
    assert os.access(os.path.join(prefix, "bin/agentjail"), os.X_OK)
    for path in files:
        assert not path.startswith(("lib/", "include/")), path  # a binary, not a library
        assert "__pycache__" not in path, path


def test_installed_binary_runs_and_needs_no_build_tree(prefix):
    binary = os.path.join(prefix, "bin/agentjail")
    out = subprocess.run([binary, "policies"], capture_output=True, text=True, check=True).stdout
    assert sorted(line.split()[0] for line in out.splitlines()) == BUILTINS
    for name in BUILTINS:  # built-ins are compiled in: the installed files are documentation
        subprocess.run([binary, "check", "-p", name], capture_output=True, check=True)


def test_installed_policy_files_pass_check(prefix):
    binary = os.path.join(prefix, "bin/agentjail")
    for path in glob.glob(os.path.join(prefix, "share/agentjail/policies/*.toml")):
        proc = subprocess.run([binary, "check", "-p", path], capture_output=True, text=True)
        assert proc.returncode == 0, (path, proc.stderr)


def test_installed_man_pages_render(prefix):
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    for page, title in (("share/man/man1/agentjail.1", "agentjail(1)"), ("share/man/man5/agentjail-policy.5", "agentjail-policy(5)")):
        proc = subprocess.run(["man", "-l", os.path.join(prefix, page)], capture_output=True, text=True,
                              env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "80"})
        assert proc.returncode == 0 and title in proc.stdout and "SEE ALSO" in proc.stdout, proc.stderr
    proc = subprocess.run(["man", "-w", "agentjail-policy"], capture_output=True, text=True,
                          env={**os.environ, "MANPATH": os.path.join(prefix, "share/man")})
    assert proc.returncode == 0 and proc.stdout.startswith(prefix), proc


def test_prefix_is_respected(prefix):
    # Nothing escaped the prefix: the tree's top level is what GNUInstallDirs promises.
    assert set(os.listdir(prefix)) == {"bin", "share"}


# --- completions, run against the installed binary ---------------------------------------------

@pytest.fixture
def shell_env(prefix, tmp_path):
    (tmp_path / "mine.toml").write_text("version = 1\n")
    (tmp_path / "other.txt").write_text("")
    env = {"PATH": os.path.join(prefix, "bin") + ":/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "TERM": "dumb"}
    return env, str(tmp_path)


BASH_DRIVER = r"""
source /usr/share/bash-completion/bash_completion
source "$1"
line=$2
COMP_LINE=$line; COMP_POINT=${#line}
read -ra COMP_WORDS <<<"$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_agentjail agentjail "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def bash_complete(prefix, env, cwd, line):
    script = os.path.join(prefix, "share/bash-completion/completions/agentjail")
    proc = subprocess.run(["bash", "-c", BASH_DRIVER, "bash", script, line], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=30)
    return set(proc.stdout.split())


@pytest.mark.skipif(not os.path.exists("/usr/share/bash-completion/bash_completion"),
                    reason="bash-completion is not installed")
def test_bash_completion(prefix, shell_env):
    env, cwd = shell_env
    assert bash_complete(prefix, env, cwd, "agentjail ") >= {"run", "check", "policies", "doctor", "seccomp"}
    assert {"--net", "--memory", "--json", "--audit-log"} <= bash_complete(prefix, env, cwd, "agentjail run --")
    assert bash_complete(prefix, env, cwd, "agentjail run --net ") == {"none", "loopback", "host", "allowlist"}
    assert bash_complete(prefix, env, cwd, "agentjail run -p ") == set(BUILTINS) | {"mine.toml"}
    assert bash_complete(prefix, env, cwd, "agentjail seccomp --format ") == {"bpf", "pfc"}
    assert "ls" in bash_complete(prefix, env, cwd, "agentjail run -p shell -- l")
    assert "gitlab" in bash_complete(prefix, env, cwd, "agentjail ci ")
    assert {"config", "prepare", "run", "cleanup"} <= bash_complete(prefix, env, cwd, "agentjail ci gitlab ")
    assert {"--server", "--server-allow"} <= bash_complete(prefix, env, cwd, "agentjail ci gitlab run --ser")
    assert "--server" not in bash_complete(prefix, env, cwd, "agentjail ci gitlab prepare --")


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completion(prefix, shell_env):
    env, cwd = shell_env
    script = os.path.join(prefix, "share/fish/vendor_completions.d/agentjail.fish")

    def complete(line):
        proc = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C'{line}'"],
                              capture_output=True, text=True, env=env, cwd=cwd, timeout=30)
        return {entry.split("\t")[0] for entry in proc.stdout.splitlines()}

    assert complete("agentjail ") >= {"run", "check", "policies", "doctor", "seccomp"}
    assert complete("agentjail run --net ") == {"none", "loopback", "host", "allowlist"}
    assert complete("agentjail run -p ") == set(BUILTINS) | {"mine.toml"}
    assert "ls" in complete("agentjail run -p shell -- l")


# Drives zsh's completion system in a pseudo-terminal (zpty) and prints every candidate
# offered for the command line $2 with completion functions from $1: compadd is wrapped to
# print what it adds. After the zsh-capture-completion technique.
ZSH_DRIVER = r"""zmodload zsh/zpty
zpty z zsh -f -i
local line
setopt rcquotes
() {
  zpty -w z source $1
  repeat 4; do
    zpty -r z line
    [[ $line == ok* ]] && return
  done
  echo 'error initializing' >&2
  exit 2
} =( <<< '
PROMPT=
fpath=('"$1"' $fpath)
autoload -U compinit
compinit -u -D
zstyle ":completion:*" list-grouped false
zstyle ":completion:*" insert-tab false
zstyle ":completion:*" list-separator ""
zmodload zsh/zutil
compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
    builtin compadd "$@"
    return $?
  fi
  typeset -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits == 0 )) && return 1
  builtin printf "<%s>\n" $__hits
}
bindkey "^I" complete-word
zle -C {,,}complete-word
complete-word () {
  print -n "\nSTART\n"
  _main_complete "$@"
  print -n "\nEND\n"
}
bindkey "^I" complete-word
echo ok')
zpty -w -n z "$2"$'\t'
integer started=0
while zpty -r z line; do
  [[ $line == START* ]] && { started=1; continue }
  [[ $line == END* ]] && (( started )) && exit 0
  (( started )) && [[ $line == *"<"*">"* ]] && print -r -- ${${line##*<}%%>*}
done
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion(prefix, shell_env):
    env, cwd = shell_env
    fpath = os.path.join(prefix, "share/zsh/site-functions")

    def complete(line):
        proc = subprocess.run(["zsh", "-f", "-c", ZSH_DRIVER, "zsh", fpath, line], capture_output=True, text=True,
                              env=env, cwd=cwd, timeout=30)
        return set(proc.stdout.split())

    assert complete("agentjail ") == {"run", "check", "policies", "doctor", "seccomp", "serve", "mcp", "ci"}
    assert {"--socket", "--max-jails", "--token-file"} <= complete("agentjail serve --")
    assert complete("agentjail run --net=") == {"none", "loopback", "host", "allowlist"}
    assert set(BUILTINS) | {"mine.toml"} <= complete("agentjail run -p ")
    assert "ls" in complete("agentjail run -p shell -- l")
    assert complete("agentjail ci ") == {"gitlab"}
    assert {"config", "prepare", "run", "cleanup"} <= complete("agentjail ci gitlab ")


# --- Debian package ---------------------------------------------------------------------------

@pytest.mark.skipif(os.environ.get("AGENTJAIL_PACKAGE_TEST") != "1",
                    reason="runs as the ctest test `package` (AGENTJAIL_PACKAGE_TEST=1): it compiles for minutes")
@pytest.mark.skipif(shutil.which("dpkg-buildpackage") is None or shutil.which("lintian") is None,
                    reason="dpkg-dev and lintian are not installed")
def test_debian_package(tmp_path):
    out = tmp_path / "out"
    # nocheck: ctest's unit test already ran the tests; the package then builds only agentjail.
    options = f"nocheck parallel={os.cpu_count() or 1}"
    proc = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "build-deb.sh"), str(out)], capture_output=True,
                          text=True, timeout=2300, env={**os.environ, "DEB_BUILD_OPTIONS": options})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (deb,) = glob.glob(str(out / "agentjail_*.deb"))
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    expected = {
        "/usr/bin/agentjail",
        "/usr/share/man/man1/agentjail.1.gz",
        "/usr/share/man/man5/agentjail-policy.5.gz",
        "/usr/share/bash-completion/completions/agentjail",
        "/usr/share/zsh/vendor-completions/_agentjail",
        "/usr/share/fish/vendor_completions.d/agentjail.fish",
        "/usr/share/agentjail/schemas/report.schema.json",
        "/usr/share/agentjail/ci/github/index.js",
        "/usr/share/agentjail/ci/buildkite/command",
        "/usr/share/doc/agentjail/copyright",
    } | {f"/usr/share/agentjail/policies/{name}.toml" for name in BUILTINS}
    assert expected <= paths, sorted(expected - paths)
    mode = next(line.split()[0] for line in listing.splitlines() if line.endswith("./usr/bin/agentjail"))
    assert mode == "-rwxr-xr-x", mode  # never setuid: agentjail needs no privileges of its own
    info = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Depends"], capture_output=True, text=True,
                          check=True).stdout
    assert "Package: agentjail" in info and "libseccomp2" in info
    # The packaged binary reads its built-in policies from itself and works from /usr.
    extracted = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", deb, str(extracted)], check=True)
    policies = subprocess.run([str(extracted / "usr/bin/agentjail"), "policies"], capture_output=True, text=True,
                              check=True).stdout
    assert sorted(line.split()[0] for line in policies.splitlines()) == BUILTINS
