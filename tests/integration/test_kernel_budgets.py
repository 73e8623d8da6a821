"""Kernel budgets the whole host shares, attacked from inside the jail: AIO events
(fs.aio-max-nr), syncfs, ptys (kernel.pty.max), executable memfds when every writable mount is
noexec, and the OOM killer's choice between the command and the jail's init. Each test fails on a
build without the matching fix (agentjail-policy(5), KERNEL BUDGETS)."""
import json
import os

import pytest

from conftest import AGENTJAIL, is_root, requires_userns, run

pytestmark = requires_userns

PY = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
what = sys.argv[1]
if what == "io_setup":
    ctx = ctypes.c_ulong(0)
    rc = libc.syscall(206, 65536, ctypes.byref(ctx))
    print("io_setup", rc, ctypes.get_errno())
elif what == "syncfs":
    fd = os.open("/", os.O_RDONLY)
    print("syncfs", libc.syscall(306, fd), ctypes.get_errno())
elif what == "ptys":
    n = 0
    fds = []
    try:
        while n < 5000:
            fds.append(os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)); n += 1
    except OSError as e:
        print("ptys", n, e.errno)
elif what == "oom":
    print("oom", open("/proc/self/oom_score_adj").read().strip())
elif what == "memfd":
    m = os.memfd_create("x", 0)
    os.write(m, open("/bin/true", "rb").read())
    try:
        os.execv(f"/proc/self/fd/{m}", ["t"])
    except OSError as e:
        print("memfd refused", e.errno)
"""


def jail_py(what, *options):
    return run("python3", "-c", PY, what, policy="python", options=list(options))


def out(r):
    return r.stdout.decode() if isinstance(r.stdout, bytes) else r.stdout


def test_io_setup_is_refused_by_default():
    r = jail_py("io_setup")
    assert "io_setup -1 " in out(r), r


def test_syncfs_is_refused_by_default():
    r = jail_py("syncfs")
    assert "syncfs -1 " in out(r), r


def test_a_jail_gets_a_bounded_share_of_the_hosts_ptys():
    r = jail_py("ptys")
    line = [l for l in out(r).splitlines() if l.startswith("ptys ")]
    assert line, r
    assert int(line[0].split()[1]) <= 64, r


def test_the_command_is_the_oom_killers_first_choice():
    r = jail_py("oom")
    assert "oom 1000" in out(r), r


@pytest.mark.skipif(not os.path.exists("/proc/sys/vm/memfd_noexec"), reason="kernel < 6.3: no vm.memfd_noexec")
@pytest.mark.skipif(not is_root(), reason="only root may set vm.memfd_noexec")
def test_an_executable_memfd_is_refused_as_root():
    r = jail_py("memfd")
    assert "memfd refused 13" in out(r), r
