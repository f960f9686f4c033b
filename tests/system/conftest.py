"""Boot tests: real QEMU guests started through qemu/run, under TCG unless a
KVM probe succeeded, each with a hard time limit after which it is killed.

Two image folders:
  build/image       the release image (bulwark as /init): inspected, and booted
                    by test_appliance.py ($BULWARK_IMAGE overrides)
  build/image-test  the same kernel relinked with tests/system/testinit.c as
                    /init, and its disk ($BULWARK_TEST_IMAGE overrides)

A missing artifact is a failure naming the build step, never a skip.
"""

import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = os.environ.get("BULWARK_IMAGE") or os.path.join(REPO, "build", "image")
TEST_IMAGE = os.environ.get("BULWARK_TEST_IMAGE") or os.path.join(REPO, "build", "image-test")
QEMU_RUN = os.path.join(REPO, "qemu", "run")

READY = re.compile(r"BULWARK-TESTINIT-READY uptime=([0-9.]+)")
POWEROFF = "BULWARK-TESTINIT-POWEROFF"
# Hard limits under TCG on a busy 2-core CI machine; a healthy microvm boot
# takes about 3 s, q35 about 5 s, OVMF about 20 s (figures in image/README.md).
BOOT_LIMIT_S = {"microvm": 60, "q35": 90, "uefi": 240}
EXIT_LIMIT_S = 30


def require(path, what, hint):
    if not os.path.isfile(path):
        pytest.fail("%s not found at %s: %s" % (what, path, hint), pytrace=False)
    return path


def release_file(name):
    return require(os.path.join(IMAGE, name), "release image file " + name,
                   "build it with ./build.sh (or point BULWARK_IMAGE at a folder holding it)")


def image_test_file(name):
    return require(os.path.join(TEST_IMAGE, name), "test image file " + name,
                   "build the test image (./build.sh image-test), or point "
                   "BULWARK_TEST_IMAGE at a folder holding it")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Guest:
    """One qemu/run. The serial console is collected by a thread; every wait
    is bounded, and the guest is killed when the test ends, however it ends."""

    def __init__(self, profile, *args, limit, on_line=None):
        self.profile = profile
        self.on_line = on_line  # called with each console line as it arrives
        self.dir = tempfile.mkdtemp(prefix="bulwark-guest-")
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.https_port, self.http_port = free_port(), free_port()
        env = dict(os.environ, BULWARK_HTTPS_PORT=str(self.https_port),
                   BULWARK_HTTP_PORT=str(self.http_port))
        cmd = [QEMU_RUN, "--profile", profile, "--qmp", self.qmp_path,
               "--timeout", str(limit)] + list(args)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env)
        self.out = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            with self.cond:
                self.out.append(line)
                self.cond.notify_all()
            if self.on_line is not None:
                self.on_line(line)
        with self.cond:
            self.cond.notify_all()

    @property
    def console(self):
        with self.cond:
            return "".join(self.out)

    def wait_for(self, pattern, timeout):
        """The first match of pattern on the console, or a test failure."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = rx.search("".join(self.out))
                if m:
                    return m
                left = deadline - time.monotonic()
                # QEMU gone and its output all read: nothing more can come.
                if left <= 0 or not self.reader.is_alive():
                    break
                self.cond.wait(min(left, 0.2))
        pytest.fail("%s: %r not on the console within %.0f s (qemu %s); console:\n%s"
                    % (self.profile, pattern, timeout,
                       "running" if self.proc.poll() is None else "exited %s" % self.proc.returncode,
                       self.console[-4000:]), pytrace=False)

    def qmp(self, command, timeout=10, **arguments):
        """Runs one QMP command; returns its "return" value."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(self.qmp_path)
            f = s.makefile("rw")
            json.loads(f.readline())  # the greeting
            for cmd, args in (("qmp_capabilities", {}), (command, arguments)):
                f.write(json.dumps(dict({"execute": cmd}, **({"arguments": args} if args else {}))) + "\n")
                f.flush()
                while True:
                    reply = json.loads(f.readline())
                    if "return" in reply or "error" in reply:
                        break
                assert "error" not in reply, reply
        return reply["return"]

    def wait_exit(self, timeout=EXIT_LIMIT_S):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("%s: QEMU still running %d s later; console:\n%s"
                        % (self.profile, timeout, self.console[-3000:]), pytrace=False)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()  # qemu/run's QEMU dies with it (PR_SET_PDEATHSIG)
            self.proc.wait()

    def close(self):
        self.kill()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def boot_args(profile, image_file):
    """qemu/run arguments booting `profile` from the files image_file gives."""
    if profile == "uefi":
        return ["--disk", image_file("disk.qcow2")]
    return ["--kernel", image_file("bzImage")]


@pytest.fixture
def guest():
    """guest(profile, *qemu_run_args) -> a running Guest, killed at teardown."""
    made = []

    def start(profile, *args):
        g = Guest(profile, *args, limit=BOOT_LIMIT_S[profile] + EXIT_LIMIT_S)
        made.append(g)
        return g

    yield start
    for g in made:
        g.close()


@pytest.fixture(scope="session")
def secrets_img(tmp_path_factory):
    d = tmp_path_factory.mktemp("secrets")
    (d / "in").mkdir()
    (d / "in" / "tls-key.pem").write_bytes(b"test key\n")
    out = d / "secrets.img"
    r = subprocess.run([os.path.join(REPO, "image", "mksecrets"), str(d / "in"), str(out)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout.decode()
    return str(out)
