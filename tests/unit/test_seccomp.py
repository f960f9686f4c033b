"""The serving process's seccomp allow-list (app/init/seccomp.c), driven by
build/tests/seccomp_test_main: a child confines itself, does one thing, and
the parent reports how it ended and what came through the report pipe (as
PID 1 does). The whole integration suite also runs under this filter
(tests/conftest.py passes --seccomp), which is what proves the list is
complete for the service."""

import os
import signal
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = os.path.join(REPO, "build", "tests", "seccomp_test_main")


def run(action):
    if not os.path.exists(DRIVER):
        pytest.fail("%s missing: run ./build.sh" % DRIVER, pytrace=False)
    r = subprocess.run([DRIVER, action], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


@pytest.mark.parametrize("action", ["nothing", "thread", "tcp"])
def test_what_the_service_does_is_allowed(action):
    out = run(action)
    assert "ok " + action in out and "exit=0" in out, out


def test_files_open_read_only_and_stat_finds_nothing():
    # in the image the root holds only /etc/hosts and /etc/resolv.conf
    out = run("open-read")
    assert "ok open-read=yes" in out and "exit=0" in out, out
    out = run("stat")
    assert "ok stat=-1 errno=No such file or directory" in out and "exit=0" in out, out


@pytest.mark.parametrize("action,syscall,nr", [
    ("exec", "execve", 59),
    ("netlink", "socket", 41),      # only AF_INET/AF_INET6 sockets
    ("mmap-exec", "mmap", 9),       # no executable memory
    ("ptrace", "ptrace", 101),
    ("open-write", "open", 2),      # open only to read
])
def test_violation_is_named_reported_and_fatal(action, syscall, nr):
    out = run(action)
    assert "not killed" not in out, out
    assert "signal=%d" % signal.SIGSYS in out, out
    assert '"event":"seccomp_violation","syscall":"%s","nr":%d' % (syscall, nr) in out, out
    assert "reported=%d" % nr in out, out


@pytest.mark.parametrize("action", ["fork", "setuid"])
def test_violation_with_sigsys_blocked_is_still_fatal(action):
    # musl blocks every signal around fork() and the set*id calls, so the
    # kernel delivers the trap's SIGSYS with the default action: the process
    # dies unreported (PID 1 then logs "seccomp" without a syscall name).
    out = run(action)
    assert "not killed" not in out, out
    assert "signal=%d" % signal.SIGSYS in out, out
