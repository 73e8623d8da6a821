"""Workspaces (-w/--workspace, [workspace]): the caller's directory in the jail, files the jail
writes owned by the directory's owner on the host, an overlay mode that never changes the host
and reports every change; and the attacks from inside on what agentjail does with them on the
host side (agentjail(1) WORKSPACES)."""
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from conftest import NOBODY, is_root, requires_userns, run

pytestmark = requires_userns

USERS = [None, NOBODY]  # the tests' own user (root, usually) and an ordinary one via setpriv


def user_id(user):
    return "self" if user is None else f"uid{user}"


@pytest.fixture
def tree():
    """A fresh directory under /tmp (0755 chain), removed afterwards."""
    parent = tempfile.mkdtemp(prefix="aj-ws-")
    os.chmod(parent, 0o755)
    path = os.path.join(parent, "checkout")
    os.mkdir(path, 0o755)
    yield path
    shutil.rmtree(parent, ignore_errors=True)


def chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)
    os.lchown(path, uid, gid)


def owner_for(user, tree):
    """Makes `tree` the running user's own (an ordinary user's checkout is their own)."""
    if user is not None and is_root():
        chown_tree(tree, user, user)


def snapshot(path):
    """Every entry under `path` with its type, mode, owner and content hash (links as text)."""
    out = {}
    for root, dirs, files in os.walk(path):
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(full)
            else:
                digest = None
            out[os.path.relpath(full, path)] = (st.st_mode, st.st_uid, st.st_gid, digest)
    return out


def in_dir(path, *args, **kwargs):
    cwd = os.getcwd()
    os.chdir(path)
    try:
        return run(*args, **kwargs)
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("user", USERS, ids=user_id)
def test_python_script_in_caller_directory(tree, user):
    with open(os.path.join(tree, "x.py"), "w") as f:
        f.write("import os\nprint('x.py ran in', os.getcwd())\n")
    owner_for(user, tree)
    r = in_dir(tree, "python3", "x.py", policy="python", options=["-w", "."], user=user)
    assert r.code == 0, r
    assert "x.py ran in /work" in r.stdout, r
    ws = r.report["workspace"]
    assert ws == {"source": tree, "target": "/work", "mode": "ro", "changes": None, "changes_total": None,
                  "kept": None}, ws


def test_no_workspace_is_null():
    r = run("true", policy="python")
    assert r.code == 0, r
    assert r.report["workspace"] is None


@pytest.mark.parametrize("user", USERS, ids=user_id)
def test_ro_workspace_is_read_only(tree, user):
    owner_for(user, tree)
    r = in_dir(tree, "sh", "-c", "echo x > /work/new 2>/dev/null && echo WROTE; echo done", policy="python",
               options=["-w", "."], user=user)
    assert "done" in r.stdout and "WROTE" not in r.stdout, r
    assert not os.path.exists(os.path.join(tree, "new"))


def write_project(tree):
    with open(os.path.join(tree, "hello.c"), "w") as f:
        f.write('#include <stdio.h>\nint main(void) { puts("hello from make"); return 0; }\n')
    with open(os.path.join(tree, "Makefile"), "w") as f:
        f.write("hello: hello.c\n\tgcc -o hello hello.c\ntest: hello\n\t./hello > result.txt\n")


def make_in_workspace(tree, user=None):
    return in_dir(tree, "make", "test", policy="ci", options=["-w", ".:rw", "--time", "60s"], user=user)


def idmap_fallback(report):
    return any("no idmapped mount" in w for w in report["warnings"])


def skip_if_fallback_cannot_write(r):
    """A root-owned tree on a filesystem without idmapped mounts (tmpfs before Linux 6.3, 9p):
    the documented fallback runs the jail as its own uid, which cannot write there."""
    if any("belongs to uid 0" in w for w in (r.report or {}).get("warnings", [])):
        pytest.skip("no idmapped mount on this filesystem and the owner is root: the documented fallback "
                    "cannot write")


@pytest.mark.skipif(not is_root(), reason="needs root: a root-owned checkout run by root")
def test_make_in_root_owned_checkout(tree):
    write_project(tree)
    chown_tree(tree, 0, 0)
    r = make_in_workspace(tree)
    if r.code != 0 and any("belongs to uid 0" in w for w in (r.report or {}).get("warnings", [])):
        pytest.skip("no idmapped mount on this filesystem and the owner is root: the documented fallback "
                    f"cannot write (warning: {r.report['warnings']})")
    assert r.code == 0, r
    for name in ("hello", "result.txt"):
        st = os.lstat(os.path.join(tree, name))
        assert (st.st_uid, st.st_gid) == (0, 0), (name, st)
        assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID)
    with open(os.path.join(tree, "result.txt")) as f:
        assert f.read() == "hello from make\n"
    assert not idmap_fallback(r.report), r.report["warnings"]


@pytest.mark.skipif(not is_root(), reason="needs root: a checkout of uid 1000 run by root")
def test_make_in_checkout_owned_by_1000(tree):
    write_project(tree)
    chown_tree(tree, 1000, 1000)
    r = make_in_workspace(tree)
    assert r.code == 0, r
    for name in ("hello", "result.txt"):
        st = os.lstat(os.path.join(tree, name))
        assert (st.st_uid, st.st_gid) == (1000, 1000), (name, st)


def test_make_in_own_checkout_as_ordinary_user(tree):
    write_project(tree)
    owner_for(NOBODY, tree)
    r = make_in_workspace(tree, user=NOBODY)
    assert r.code == 0, r
    st = os.lstat(os.path.join(tree, "hello"))
    assert st.st_uid == NOBODY, st


def test_rw_as_other_user_warns(tree):
    # An ordinary user's jail cannot take over root's checkout: it says so and writes nothing.
    chown_tree(tree, 0, 0) if is_root() else pytest.skip("needs root to make a checkout of another user")
    r = in_dir(tree, "sh", "-c", "touch /work/x 2>/dev/null; echo done", policy="python", options=["-w", ".:rw"],
               user=NOBODY)
    assert "done" in r.stdout, r
    assert any("belongs to uid 0" in w for w in r.report["warnings"]), r.report["warnings"]
    assert not os.path.exists(os.path.join(tree, "x"))


def overlay_run(tree, script, user, keep=None, extra=()):
    options = ["-w", ".:overlay", *extra]
    if keep:
        options += ["--changes", keep]
    r = in_dir(tree, "sh", "-c", script, policy="python", options=options, user=user, timeout=300)
    if r.code == 125 and r.report and "overlay" in (r.report.get("error") or ""):
        pytest.skip(f"overlayfs in a user namespace is not available here: {r.report['error']}")
    return r


def keep_dir_for(user):
    parent = tempfile.mkdtemp(prefix="aj-keep-")
    os.chmod(parent, 0o777)
    return parent, os.path.join(parent, "changes")


@pytest.mark.parametrize("user", USERS, ids=user_id)
def test_overlay_reports_exactly_the_changes_and_keeps_them(tree, user):
    with open(os.path.join(tree, "modify.txt"), "w") as f:
        f.write("old\n")
    with open(os.path.join(tree, "delete.txt"), "w") as f:
        f.write("bye\n")
    os.mkdir(os.path.join(tree, "sub"))
    with open(os.path.join(tree, "sub", "same.txt"), "w") as f:
        f.write("same\n")
    owner_for(user, tree)
    before = snapshot(tree)
    parent, keep = keep_dir_for(user)
    try:
        r = overlay_run(tree, "echo new > added.txt && echo more >> modify.txt && rm delete.txt && echo ok", user, keep)
        assert r.code == 0 and "ok" in r.stdout, r
        assert snapshot(tree) == before  # byte for byte, modes and owners too
        ws = r.report["workspace"]
        assert ws["mode"] == "overlay" and ws["changes_total"] == 3, ws
        assert sorted((c["path"], c["change"], c["bytes"]) for c in ws["changes"]) == [
            ("added.txt", "added", 4), ("delete.txt", "deleted", 0), ("modify.txt", "modified", 9)]
        assert ws["kept"] == keep
        assert sorted(os.listdir(keep)) == ["added.txt", "modify.txt"]
        with open(os.path.join(keep, "modify.txt")) as f:
            assert f.read() == "old\nmore\n"
        assert not [n for n in os.listdir("/tmp") if n.startswith("agentjail-overlay-")
                    and os.stat(os.path.join("/tmp", n)).st_uid == os.geteuid() and user is None]
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_overlay_keep_dir_not_empty_is_refused_before_running(tree):
    parent, keep = keep_dir_for(None)
    try:
        os.mkdir(keep)
        open(os.path.join(keep, "old"), "w").close()
        r = in_dir(tree, "sh", "-c", "echo RAN", policy="python", options=["-w", ".:overlay", "--changes", keep])
        assert r.code == 125 and "RAN" not in r.stdout, r
        assert "not empty" in r.stderr
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.parametrize("bad", [["-w", "/nonexistent-aj-ws"], ["-w", "/etc/passwd"], ["-w", ".:wr"],
                                 ["-w", ".:/work:rw:x"], ["--changes", "/tmp/x"], ["-w", ".:rw", "--changes", "/tmp/x"]])
def test_bad_workspace_options_are_125(tree, bad):
    r = in_dir(tree, "sh", "-c", "echo RAN", policy="python", options=bad)
    assert r.code == 125 and "RAN" not in r.stdout, r
    lines = [l for l in r.stderr.splitlines() if l.startswith("agentjail:")]
    assert lines, r


def test_workspace_replaces_ci_scratch_work(tree):
    open(os.path.join(tree, "marker"), "w").close()
    r = in_dir(tree, "ls", "/work", policy="ci", options=["-w", "."])
    assert r.code == 0 and "marker" in r.stdout, r


def test_cwd_option_wins_over_target(tree):
    r = in_dir(tree, "pwd", policy="python", options=["-w", ".", "--cwd", "/tmp"])
    assert r.stdout.strip() == "/tmp", r


@pytest.mark.parametrize("mode", ["rw", "overlay"])
def test_planted_links_are_never_followed(tree, mode):
    secret_parent = tempfile.mkdtemp(prefix="aj-secret-")
    secret = os.path.join(secret_parent, "secret")
    with open(secret, "w") as f:
        f.write("host secret\n")
    parent, keep = keep_dir_for(None)
    try:
        script = (f"ln -s {secret} evil; ln -s / rootlink; ln /etc/passwd hard 2>/dev/null && echo LINKED; "
                  "mkdir d && ln -s /etc d/x; echo planted")
        options = ["-w", f".:{mode}"] + (["--changes", keep] if mode == "overlay" else [])
        r = in_dir(tree, "sh", "-c", script, policy="python", options=options)
        if mode == "overlay" and r.code == 125:
            pytest.skip(f"no overlay here: {r.report and r.report.get('error')}")
        if mode == "rw":
            skip_if_fallback_cannot_write(r)
        assert r.code == 0 and "planted" in r.stdout and "LINKED" not in r.stdout, r
        with open(secret) as f:
            assert f.read() == "host secret\n"
        if mode == "overlay":
            # Kept as links, their text as the jail wrote it; nothing was read through them.
            assert os.readlink(os.path.join(keep, "evil")) == secret
            assert os.path.islink(os.path.join(keep, "rootlink"))
            assert os.path.islink(os.path.join(keep, "d", "x"))
            assert not os.path.exists(os.path.join(keep, "hard"))
            paths = {c["path"]: c for c in r.report["workspace"]["changes"]}
            assert paths["evil"]["bytes"] == 0 and paths["evil"]["change"] == "added"
        else:
            assert os.readlink(os.path.join(tree, "evil")) == secret
    finally:
        shutil.rmtree(parent, ignore_errors=True)
        shutil.rmtree(secret_parent, ignore_errors=True)


@pytest.mark.parametrize("mode", ["rw", "overlay"])
def test_fifo_device_and_setuid(tree, mode):
    parent, keep = keep_dir_for(None)
    try:
        script = ("mkfifo ff; mknod dev c 1 3 2>/dev/null && echo MKNOD; cp /bin/true s; chmod 4755 s 2>/dev/null "
                  "&& echo SETUID; chmod 2755 s 2>/dev/null && echo SETGID; echo planted")
        options = ["-w", f".:{mode}"] + (["--changes", keep] if mode == "overlay" else [])
        r = in_dir(tree, "sh", "-c", script, policy="ci", options=options, timeout=120)
        if mode == "overlay" and r.code == 125:
            pytest.skip(f"no overlay here: {r.report and r.report.get('error')}")
        if mode == "rw":
            skip_if_fallback_cannot_write(r)
        assert r.code == 0 and "planted" in r.stdout, r
        for word in ("MKNOD", "SETUID", "SETGID"):
            assert word not in r.stdout, r
        root = keep if mode == "overlay" else tree
        st = os.lstat(os.path.join(root, "s"))
        assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), oct(st.st_mode)
        assert not os.path.exists(os.path.join(root, "dev"))
        if mode == "overlay":
            assert not os.path.lexists(os.path.join(keep, "ff"))  # listed, never recreated
            assert "ff" in {c["path"] for c in r.report["workspace"]["changes"]}
        else:
            assert stat.S_ISFIFO(os.lstat(os.path.join(tree, "ff")).st_mode)
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_long_path_and_deep_tree_in_changes(tree):
    parent, keep = keep_dir_for(None)
    try:
        # A path of 4096 bytes (16 components of 255) and a directory 10,000 levels deep.
        script = ("python3 -c \"\nimport os\nname='n'*254\nos.makedirs('/work/' + '/'.join([name]*15), exist_ok=True)\n"
                  "os.chdir('/work/' + '/'.join([name]*15))\nopen('f'*255, 'w').write('x')\n"
                  "os.chdir('/work')\nos.mkdir('deep'); os.chdir('deep')\n"
                  "for i in range(10000):\n    os.mkdir('d'); os.chdir('d')\nprint('built')\n\"")
        r = overlay_run(tree, script, None, keep, extra=["--time", "120s"])
        assert r.code == 0 and "built" in r.stdout, r
        ws = r.report["workspace"]
        paths = {c["path"] for c in ws["changes"]}
        assert "deep" in paths, paths  # an added directory is one entry
        assert ws["changes_total"] >= 2
        assert any("levels deep were not kept" in w for w in r.report["warnings"]), r.report["warnings"]
        assert os.path.isdir(os.path.join(keep, "deep", "d"))
        assert not [n for n in os.listdir("/tmp") if n.startswith("agentjail-overlay-")
                    and os.stat(os.path.join("/tmp", n)).st_mtime > os.stat(keep).st_mtime - 1
                    and os.lstat(os.path.join("/tmp", n)).st_uid == os.geteuid()]
    finally:
        shutil.rmtree(parent, ignore_errors=True)
