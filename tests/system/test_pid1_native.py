"""PID 1 (app/init) on this host, without a VM: `bulwark` runs as the init
of new PID, mount, network, UTS and IPC namespaces, chroot'ed into a folder
holding only /init, with the secrets volume on a read-only loop device.
The kernel is the host's, not the image's, but everything PID 1 does is
real: mounts, the volume's checks, the serving process's confinement
(read back from /proc), restarts, the drain on SIGTERM/SIGINT and the
power-off (reboot(2) in a PID namespace ends it).

What needs the image's own kernel (the ACPI power button, the console,
DHCP) is in test_boot.py/test_appliance.py. Needs root (CI runs as root)."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from . import volumes

REPO = volumes.REPO
BIN = os.path.join(REPO, "build", "bin", "bulwark")
# the file name marks our loop devices, so a crashed run's are found again
MARK = "bulwark-pid1-test"
BOOT_LIMIT_S = 20
EXIT_LIMIT_S = 25


def detach_stale_loops():
    for dev in os.listdir("/sys/class/block"):
        backing = "/sys/class/block/%s/loop/backing_file" % dev
        if os.path.exists(backing) and MARK in open(backing).read():
            subprocess.run(["losetup", "-d", "/dev/" + dev], stderr=subprocess.DEVNULL)


class Pid1:
    def __init__(self, tmp, volume_images):
        if os.geteuid() != 0:
            pytest.fail("PID 1 tests need root (namespaces, loop devices, mounts)", pytrace=False)
        if not os.path.exists(BIN):
            pytest.fail("%s missing: run ./build.sh" % BIN, pytrace=False)
        self.root = os.path.join(tmp, "root")
        os.makedirs(self.root)
        shutil.copyfile(BIN, os.path.join(self.root, "init"))
        os.chmod(os.path.join(self.root, "init"), 0o500)
        # "/" must be a mount point in the new namespace, as the initramfs is
        subprocess.run(["mount", "--bind", self.root, self.root], check=True)
        self.loops = []
        detach_stale_loops()
        for img in volume_images:
            marked = os.path.join(os.path.dirname(img), MARK + "-" + os.path.basename(img))
            os.rename(img, marked)
            out = subprocess.run(["losetup", "--find", "--show", "--read-only", marked],
                                 stdout=subprocess.PIPE, check=True).stdout.decode().strip()
            self.loops.append(out)
        self.lines = []
        self.eof = False
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount", "--net", "--uts", "--ipc", "--root=" + self.root, "/init"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    @property
    def output(self):
        with self.cond:
            return "\n".join(self.lines)

    def events(self, name):
        out = []
        with self.cond:
            for l in self.lines:
                if l.startswith("{"):
                    rec = json.loads(l)
                    if rec.get("event") == name:
                        out.append(rec)
        return out

    def wait_event(self, name, count=1, timeout=BOOT_LIMIT_S):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = self.events_locked(name)
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    break
                self.cond.wait(min(left, 0.2))
        pytest.fail("no %r event (#%d) within %d s; output:\n%s" % (name, count, timeout, self.output),
                    pytrace=False)

    def events_locked(self, name):
        return [json.loads(l) for l in self.lines if l.startswith("{") and '"event":"%s"' % name in l]

    # the namespace's PID 1 and its child, as host PIDs
    @property
    def init_pid(self):
        kids = open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)).read().split()
        return int(kids[0])

    @property
    def worker_pid(self):
        p = self.init_pid
        kids = open("/proc/%d/task/%d/children" % (p, p)).read().split()
        assert len(kids) == 1, kids
        return int(kids[0])

    def in_netns(self, *cmd, timeout=30):
        return subprocess.run(["nsenter", "-t", str(self.init_pid), "-n"] + list(cmd),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)

    def curl(self, *args):
        r = self.in_netns("curl", "-sk", "--max-time", "20", *args)
        return r.stdout.decode()

    def wait_exit(self, timeout=EXIT_LIMIT_S):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail("PID 1 still running %d s later; output:\n%s" % (timeout, self.output), pytrace=False)

    def close(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.init_pid, signal.SIGKILL)
            except (OSError, IndexError, ValueError):
                pass
            self.proc.kill()
            self.proc.wait(10)
        for dev in self.loops:
            subprocess.run(["losetup", "-d", dev], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-l", self.root], stderr=subprocess.DEVNULL)


@pytest.fixture
def pid1(tmp_path):
    made = []

    def start(*images):
        p = Pid1(str(tmp_path), images)
        made.append(p)
        return p

    yield start
    for p in made:
        p.close()


@pytest.fixture
def serving(pid1, tmp_path):
    p = pid1(volumes.good_volume(str(tmp_path / "secrets.img")))
    p.wait_event("listening")
    p.in_netns("ip", "link", "set", "lo", "up")
    return p


def proc_status(pid):
    fields = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return fields


# --- serving ---------------------------------------------------------------

def test_boot_line_and_serving(serving):
    boot = serving.events("boot")[0]
    with open(BIN, "rb") as f:
        assert boot["init_sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert boot["https"] == ["0.0.0.0:443"] and boot["http"] == ["0.0.0.0:80"]
    assert boot["secrets_files"] == 4 and boot["secrets_device"].startswith("/dev/loop")
    assert boot["version"] and boot["kernel"]
    assert serving.curl("https://localhost/healthz") == '{"status":"ok"}'
    assert serving.curl("--http2", "-o", "/dev/null", "-w", "%{http_version}", "https://localhost/healthz") == "2"
    assert serving.curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                        "http://localhost/healthz") == "308 https://localhost/healthz"


def test_serving_process_is_confined(serving):
    w = serving.worker_pid
    st = proc_status(w)
    assert st["Uid"].split() == ["1000"] * 4 and st["Gid"].split() == ["1000"] * 4, st
    assert st["Groups"] == ""
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[cap], 16) == 0, (cap, st[cap])
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st
    # not dumpable: its /proc files belong to root, not to uid 1000
    assert os.stat("/proc/%d/environ" % w).st_uid == 0
    # its whole file system: one read-only mount holding only the resolver's files
    mounts = open("/proc/%d/mountinfo" % w).read().splitlines()
    assert len(mounts) == 1, mounts
    assert " / / ro," in mounts[0] and "ramfs" in mounts[0], mounts
    root = "/proc/%d/root" % w
    assert os.listdir(root) == ["etc"]
    assert set(os.listdir(root + "/etc")) <= {"hosts", "resolv.conf"}
    assert open(root + "/etc/hosts").read() == "127.0.0.1 localhost\n::1 localhost\n"
    limits = open("/proc/%d/limits" % w).read()
    assert re.search(r"Max core file size\s+0\s+0", limits)
    assert re.search(r"Max open files\s+16384\s+16384", limits)
    assert re.search(r"Max processes\s+\d+\s+\d+", limits)


def test_secrets_volume_is_unmounted_after_loading(serving):
    for pid in (serving.init_pid, serving.worker_pid):
        assert "/secrets" not in open("/proc/%d/mountinfo" % pid).read()
    assert not os.path.exists(os.path.join(serving.root, "secrets"))


def test_crashed_worker_is_restarted_with_backoff(serving):
    for n, backoff in ((1, 1000), (2, 2000)):
        old = serving.worker_pid
        os.kill(old, signal.SIGSEGV)
        ex = serving.wait_event("worker_exit", n)
        assert ex["signal"] == "Segmentation fault" and ex["was_serving"] == "yes", ex
        assert ex["restart_in_ms"] == backoff, ex
        serving.wait_event("listening", n + 1, timeout=backoff / 1000 + BOOT_LIMIT_S)
        assert serving.worker_pid != old
        assert serving.curl("https://localhost/healthz") == '{"status":"ok"}'


# --- stopping --------------------------------------------------------------

def login(p, result):
    creds = json.load(open(os.path.join(REPO, "build", "demo", "credentials.json")))
    body = json.dumps({"username": "alice", "password": creds["alice"]})
    result.append(p.curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "content-type: application/json",
                         "--data", body, "https://localhost/api/auth/login"))


@pytest.mark.parametrize("sig,name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_stop_drains_a_request_in_flight_then_powers_off(serving, sig, name):
    result = []
    t = threading.Thread(target=login, args=(serving, result))
    t.start()
    # the login's PBKDF2 takes about half a second: signal while it runs
    deadline = time.monotonic() + 10
    while not serving.in_netns("ss", "-Htn", "state", "established", "( sport = :443 )").stdout.strip():
        assert time.monotonic() < deadline, "the login never connected"
        time.sleep(0.02)
    time.sleep(0.15)  # past the TLS handshake (~10 ms), inside the PBKDF2 (~500 ms)
    os.kill(serving.init_pid, sig)
    t.join(30)
    serving.wait_exit()
    assert result == ["200"], (result, serving.output)
    stop = serving.events("stop")[0]
    assert stop["signal"] == name
    # the login was still running when the stop began, and finished after it
    order = [l for l in serving.lines if '"event":"stop"' in l or '"path":"/api/auth/login"' in l]
    assert '"event":"stop"' in order[0] and '"status":200' in order[1], order
    last = serving.events("worker_exit")[-1]
    assert last["exit_status"] == 0, last
    assert serving.lines[-1].find('"event":"poweroff"') != -1, serving.output


# --- refusing a bad volume ---------------------------------------------------

def bad(tmp, tweak, drop=()):
    root = volumes.staged(str(tmp), drop)
    tweak(root)
    return volumes.raw_volume(root, os.path.join(str(tmp), "bad.img"))


def chmod(name, mode):
    return lambda root: os.chmod(os.path.join(root, name) if name else root, mode)


def chown(name, uid):
    return lambda root: os.chown(os.path.join(root, name), uid, uid)


def symlink(root):
    os.chmod(root, 0o700)
    os.symlink("tls-key.pem", os.path.join(root, "extra.pem"))
    os.chmod(root, 0o500)


def subdir(root):
    os.chmod(root, 0o700)
    os.mkdir(os.path.join(root, "nested"), 0o500)
    os.chown(os.path.join(root, "nested"), 1000, 1000)
    os.chmod(root, 0o500)


def fifo(root):
    os.chmod(root, 0o700)
    os.mkfifo(os.path.join(root, "pipe"), 0o400)
    os.chown(os.path.join(root, "pipe"), 1000, 1000)
    os.chmod(root, 0o500)


BAD_VOLUMES = {
    "world-readable key": (chmod("tls-key.pem", 0o444), "/secrets/tls-key.pem", "has mode 0444; it must be 0400"),
    "group-readable key": (chmod("jwt-signing-key.pem", 0o440), "/secrets/jwt-signing-key.pem",
                           "has mode 0440; it must be 0400"),
    "wrong owner": (chown("tls-key.pem", 0), "/secrets/tls-key.pem", "owned by uid 0 gid 0; it must be uid 1000"),
    "symlink": (symlink, "/secrets/extra.pem", "is a symbolic link"),
    "directory 0755": (chmod(None, 0o755), "/secrets", "root directory has mode 0755; it must be 0500"),
    "subdirectory": (subdir, "/secrets/nested", "is a directory"),
    "fifo": (fifo, "/secrets/pipe", "is a FIFO"),
}


@pytest.mark.parametrize("case", sorted(BAD_VOLUMES))
def test_bad_volume_is_refused_with_the_reason_then_power_off(pid1, tmp_path, case):
    tweak, file, reason = BAD_VOLUMES[case]
    p = pid1(bad(tmp_path, tweak))
    failed = p.wait_event("boot_failed")
    assert failed.get("file") == file and reason in failed["reason"], failed
    p.wait_exit()
    assert p.lines[-1].find('"event":"poweroff"') != -1, p.output
    assert not p.events("worker_start"), p.output


def test_missing_file_is_named_then_power_off(pid1, tmp_path):
    p = pid1(bad(tmp_path, lambda root: None, drop=("tls-key.pem",)))
    p.wait_event("boot_failed")
    p.wait_exit()
    assert "bulwark: error: cannot read key /secrets/tls-key.pem: No such file or directory" in p.output, p.output
    assert p.events("worker_exit")[0]["was_serving"] == "no"
    assert len(p.events("worker_start")) == 1  # a configuration error is not retried


def test_unreadable_key_is_named_then_power_off(pid1, tmp_path):
    def garbage(root):
        os.chmod(os.path.join(root, "tls-key.pem"), 0o600)
        with open(os.path.join(root, "tls-key.pem"), "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
        os.chmod(os.path.join(root, "tls-key.pem"), 0o400)
    p = pid1(bad(tmp_path, garbage))
    p.wait_event("boot_failed")
    p.wait_exit()
    assert re.search(r"bulwark: error: key /secrets/tls-key.pem is not a PEM or DER private key", p.output), p.output


def test_no_volume_is_named_then_power_off(pid1):
    p = pid1()
    failed = p.wait_event("boot_failed", timeout=30)
    assert failed["reason"].startswith("no secrets volume: no block device holds an EROFS filesystem labelled "
                                       "bulwark-secrets"), failed
    p.wait_exit()


def test_two_volumes_are_refused(pid1, tmp_path):
    a = volumes.good_volume(str(tmp_path / "a.img"))
    b = volumes.good_volume(str(tmp_path / "b.img"))
    p = pid1(a, b)
    failed = p.wait_event("boot_failed")
    assert "2 block devices carry the label bulwark-secrets" in failed["reason"], failed
    p.wait_exit()
