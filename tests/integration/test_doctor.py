"""SPEC §1 `agentjail doctor`: what this host can enforce, the stable --json object, and an exit
status that says whether a policy would be enforced in full (0) or more weakly (1)."""
import json
import os
import re
import subprocess

import pytest

from conftest import AGENTJAIL, agentjail_for, as_user_prefix, is_root, run, userns_works

LIMITS = {"wall_time", "cpu_time", "memory", "pids", "cpus", "file_size", "open_files", "stack", "core_size",
          "output"}

UNLIMITED_POLICY = """version = 1
name = "unlimited"
landlock = "off"
[limits]
memory = "unlimited"
pids = "unlimited"
cpu_time = "unlimited"
"""


def doctor(*args, user=None):
    argv = [agentjail_for(user), "doctor", *args]
    if user is not None:
        argv = as_user_prefix(user, user) + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def doctor_json(*args, user=None):
    proc = doctor("--json", *args, user=user)
    assert proc.returncode in (0, 1), proc
    return proc.returncode, json.loads(proc.stdout)


def test_json_object_is_complete_and_typed():
    code, d = doctor_json()
    assert d["schema"] == 1
    assert set(d) >= {"agentjail", "kernel", "caller", "userns", "cgroup", "seccomp", "landlock", "policy", "ok",
                      "problems"}
    assert d["kernel"] == os.uname().release
    assert d["caller"] == {"uid": os.getuid(), "euid": os.geteuid(), "root": is_root()}
    assert set(d["userns"]) == {"available", "unprivileged", "error", "problem"}
    assert set(d["cgroup"]) == {"v2", "v1", "clone_into_cgroup", "kill", "memory_peak", "stale_removed"}
    assert set(d["cgroup"]["v2"]) == {"mounted", "mount", "cgroup", "writable", "available", "delegated", "problem"}
    for name, c in d["cgroup"]["v1"].items():
        assert name in {"memory", "pids", "cpu", "cpuacct"}
        assert {"path", "writable", "problem"} <= set(c)
        assert c["writable"] or c["problem"]
    assert set(d["seccomp"]) == {"filter", "user_notify"}
    assert set(d["network"]) == {"allowlist", "ipv6", "error"}
    assert d["network"]["allowlist"] == (d["network"]["error"] is None)
    assert set(d["host_ids"]) == {"source", "range", "lock_dir", "accounts", "leased", "free", "uid", "subuid",
                                  "subgid", "newuidmap", "shared"}
    assert set(d["landlock"]) == {"abi", "used", "abi_used", "mode", "not_enforced"}
    assert isinstance(d["landlock"]["abi"], int) and d["landlock"]["mode"] == "best-effort"
    assert d["landlock"]["used"] == (d["landlock"]["abi_used"] > 0) == (d["landlock"]["abi"] > 0)
    assert d["landlock"]["abi_used"] == min(d["landlock"]["abi"], 6)
    assert d["policy"]["name"] == "default" and d["policy"]["source"] == "builtin:default"
    assert d["policy"]["cgroup"] in {"v2", "v1", "none"}
    assert set(d["policy"]["limits"]) == LIMITS
    for limit in d["policy"]["limits"].values():
        assert set(limit) == {"value", "enforced_by", "full"}
    assert d["policy"]["limits"]["memory"]["value"] == 256 << 20
    assert d["policy"]["limits"]["wall_time"]["value"] == 30000
    assert d["policy"]["limits"]["cpus"]["value"] is None
    assert (code == 0) == d["ok"] == (d["problems"] == [])


def test_every_limit_says_what_enforces_it(tmp_path):
    # Every row of the limits table set, cpus too: each names its mechanism (a cgroup file, an
    # RLIMIT_*, the supervisor), none is left without words.
    path = tmp_path / "bounded.toml"
    path.write_text('version = 1\nname = "bounded"\n[limits]\ncpus = 0.5\n')
    _, d = doctor_json("-p", str(path))
    limits = d["policy"]["limits"]
    assert set(limits) == LIMITS
    for name, limit in limits.items():
        assert limit["value"] is not None, name
        assert limit["enforced_by"] and limit["enforced_by"] not in {"unknown", "unlimited"}, (name, limit)
    assert limits["cpus"]["value"] == 0.5
    for name, rlimit in [("file_size", "RLIMIT_FSIZE"), ("open_files", "RLIMIT_NOFILE"), ("stack", "RLIMIT_STACK"),
                         ("core_size", "RLIMIT_CORE")]:
        assert limits[name] == {"value": limits[name]["value"], "enforced_by": rlimit, "full": True}


def test_agrees_with_this_host():
    _, d = doctor_json()
    with open("/proc/self/cgroup") as f:
        v2_lines = [line.split(":", 2)[2].strip() for line in f if line.startswith("0::")]
    if d["cgroup"]["v2"]["mounted"] and v2_lines:
        assert d["cgroup"]["v2"]["cgroup"] == v2_lines[0]
        assert os.path.isdir(os.path.join(d["cgroup"]["v2"]["mount"], v2_lines[0].lstrip("/")))
    for c in d["cgroup"]["v1"].values():
        assert os.path.isdir(c["path"])
        assert c["writable"] == os.access(c["path"], os.W_OK)
    assert d["userns"]["available"] == userns_works()


def test_exit_status_follows_the_warnings_of_a_real_run():
    code, d = doctor_json()
    r = run("/bin/true", policy="default")
    assert r.report["enforcement"]["cgroup"] == d["policy"]["cgroup"]
    assert r.report["warnings"] == d["policy"]["warnings"]
    assert (code == 1) == bool(d["problems"])
    for warning in d["policy"]["warnings"]:
        assert warning in d["problems"]


def test_unprivileged_user_without_cgroups_gets_exit_1_and_the_reasons():
    code, d = doctor_json(user=65534 if is_root() else None)
    if d["policy"]["cgroup"] != "none" and all(limit["full"] for limit in d["policy"]["limits"].values()):
        pytest.skip("this user has a delegated cgroup here")
    assert code == 1
    assert d["ok"] is False
    weaker = [name for name, limit in d["policy"]["limits"].items() if not limit["full"]]
    assert weaker
    for name in weaker:
        assert any(p.startswith(f"limits.{name} (") for p in d["problems"]), (name, d["problems"])


def test_a_policy_without_cgroup_limits_is_enforced_in_full_even_without_cgroups(workdir):
    policy = os.path.join(workdir, "unlimited.toml")  # readable by the ordinary user too
    with open(policy, "w") as f:
        f.write(UNLIMITED_POLICY)
    os.chmod(policy, 0o644)
    code, d = doctor_json("-p", str(policy), user=65534 if is_root() else None)
    if not d["userns"]["available"] or not d["seccomp"]["user_notify"]:
        pytest.skip("this host lacks user namespaces or seccomp user notification")
    assert d["policy"]["name"] == "unlimited"
    # Run by an ordinary user, the jail shares that user's uid, and that user cannot set
    # vm.memfd_noexec (agentjail-policy(5), KERNEL BUDGETS): both said, and nothing else weaker.
    warnings = d["policy"]["warnings"]
    assert [w for w in warnings if not w.startswith(("host ids:", "memfd_create:"))] == [], warnings
    assert len([w for w in warnings if w.startswith("host ids:")]) == 1, warnings
    assert d["problems"] == d["policy"]["warnings"]
    assert code == 1 and d["ok"] is False, d["problems"]
    assert d["host_ids"]["source"] == "caller" and d["host_ids"]["shared"] is True, d["host_ids"]


@pytest.mark.skipif(not is_root(), reason="the lease range is root's")
def test_doctor_shows_the_host_uid_range_and_its_free_ids():
    code, d = doctor_json()
    ids = d["host_ids"]
    assert ids["source"] == "leased" and ids["shared"] is False, ids
    assert ids["range"] == "1879048192-1879113727", ids
    assert ids["lock_dir"] == "/run/agentjail/uids"
    assert 0 <= ids["leased"] and ids["free"] == 65536 - ids["accounts"] - ids["leased"], ids
    assert not any(w.startswith("host ids:") for w in d["policy"]["warnings"])
    out = doctor().stdout
    assert "host ids" in out and "a uid and gid of its own per jail from 1879048192-1879113727" in out, out


def test_bad_policy_exits_125(tmp_path):
    policy = tmp_path / "bad.toml"
    policy.write_text("version = 1\n[limits]\nmemroy = 1\n")
    proc = doctor("-p", str(policy))
    assert proc.returncode == 125
    assert "memroy" in proc.stderr


def test_table_names_every_check():
    proc = doctor()
    assert proc.returncode in (0, 1), proc
    for label in ("user namespaces", "cgroup v2", "cgroup v1", "cgroup.kill", "seccomp", "landlock",
                  "stale cgroups", "policy default", "memory", "pids", "cpu_time", "result:"):
        assert label in proc.stdout, label
    assert proc.stderr == ""


@pytest.mark.skipif(not userns_works(), reason="this host cannot build a jail for this user")
@pytest.mark.parametrize("owner", [0, 1000, "caller"])
def test_workspace_row_says_what_a_rw_workspace_run_does(tmp_path, owner):
    """doctor's 'workspace rw' row, for the current directory, names the way a real `run -w .:rw`
    takes: no warning from the run means an idmapped mount or the jail's own uid; a fallback
    is the very warning of the run."""
    if owner == "caller":
        owner = os.getuid()
    if not is_root() and owner != os.getuid():
        pytest.skip("only root owns a directory by another uid")
    ws = tmp_path / "ws"
    ws.mkdir()
    os.chmod(tmp_path, 0o755)
    if is_root():
        os.chown(ws, owner, owner)
    proc = subprocess.run([AGENTJAIL, "doctor", "--json"], capture_output=True, text=True, timeout=60, cwd=ws)
    assert proc.returncode in (0, 1), proc
    row = json.loads(proc.stdout)["workspace"]
    assert row["path"] == str(ws)
    assert row["rw_ownership"] in {"idmapped", "same-user", "mapped-to-owner", "not-owner"}
    r = subprocess.run([AGENTJAIL, "run", "--json", "-w", ".:rw", "--", "/bin/sh", "-c", "echo x > made"],
                       capture_output=True, text=True, timeout=60, cwd=ws)
    report = json.loads(r.stdout)
    # not-owner: the jail writes as its own uid, which may not write a directory of another's.
    assert report["status"] == "ok" or row["rw_ownership"] == "not-owner", report
    warnings = [w for w in report["warnings"] if w.startswith("workspace ")]
    if row["rw_ownership"] in {"idmapped", "same-user"}:
        assert warnings == []
        assert os.stat(ws / "made").st_uid == (owner if is_root() else os.getuid())
    else:
        # The run's leased uid may be another than the one doctor plans with.
        same = lambda text: re.sub(r"host uid \d+", "host uid N", text)  # noqa: E731
        assert [same(w) for w in warnings] == [same(row["detail"])]
