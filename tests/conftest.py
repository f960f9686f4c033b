"""Shared fixtures: where the binary and the demo identity are, and a running
`bulwark serve` on free loopback ports.

The tests drive the real binary (build/bin/bulwark, or $BULWARK_BIN) with real
clients. A missing binary or demo identity is a failure with a message saying
what to build, never a skip: a suite that skips everything proves nothing.

Under `make test-sanitize` the binary is the ASan+UBSan build and
$BULWARK_SANITIZER_LOGS names the directory its run-time writes reports into
(log_path): any report fails the test that was running (or the server's
teardown), and the session when one is left over.
"""

import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BULWARK_BIN") or os.path.join(REPO, "build", "bin", "bulwark")
DEMO = os.environ.get("BULWARK_DEMO") or os.path.join(REPO, "build", "demo")
# The policy the servers of the suite run with (the one `make run` bakes in).
DEFAULT_POLICY = os.path.join(REPO, "policy", "default.yaml")

# Sanitizer reports (tests/sanitize/run-tests.sh sets ASAN_OPTIONS and
# UBSAN_OPTIONS log_path to files in this directory), or None.
SANITIZER_LOGS = os.environ.get("BULWARK_SANITIZER_LOGS") or None
# Every server runs under the image's seccomp allow-list unless this is "0":
# the sanitizer build (glibc, ASan's run-time) makes system calls the
# appliance's musl binary never does; see tests/sanitize/README.md.
SECCOMP = os.environ.get("BULWARK_SECCOMP", "1") != "0"
# Client timeouts and latency bounds that depend on the binary's speed are
# multiplied by this: the sanitizer build runs 2-3 times slower (PBKDF2
# logins most of all); run-tests.sh sets it. Contracts of the service itself
# (start within 10 s, exit within 12 s of SIGTERM) are not scaled.
TIME_SCALE = float(os.environ.get("BULWARK_TIME_SCALE", "1"))
# What the sanitizers print when they are not told to log into files.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")

# The contract: the listening line within 10 s of start, exit within 12 s of
# SIGTERM (10 s of drain plus slack).
READY_TIMEOUT_S = 10
EXIT_TIMEOUT_S = 12
# How long an access-log line may lag behind the response it describes.
LOG_LAG_S = 3
PORT_RETRIES = 5


def require_binary():
    if not os.path.isfile(BIN):
        pytest.fail("bulwark binary not found at %s: build it with ./build.sh "
                    "(or point BULWARK_BIN at one)" % BIN, pytrace=False)
    if not os.access(BIN, os.X_OK):
        pytest.fail("%s is not executable" % BIN, pytrace=False)
    return BIN


class Demo:
    def __init__(self, root):
        self.root = root
        self.ca = os.path.join(root, "ca.pem")
        self.secrets = os.path.join(root, "secrets")
        self.cert = os.path.join(self.secrets, "tls-cert.pem")
        self.key = os.path.join(self.secrets, "tls-key.pem")


def require_demo():
    d = Demo(DEMO)
    for f in (d.ca, d.cert, d.key):
        if not os.path.isfile(f):
            pytest.fail("demo identity file %s is missing: the build writes it "
                        "(./build.sh), or point BULWARK_DEMO at a directory holding "
                        "ca.pem and secrets/tls-{cert,key}.pem" % f, pytrace=False)
    return d


def is_report(path):
    """A log file that holds an error report (the run-time also logs notes,
    e.g. which suppressions were used)."""
    with open(path, errors="replace") as f:
        text = f.read()
    return any(m in text for m in SANITIZER_MARKERS + ("SUMMARY: ",))


def sanitizer_reports(pid=None):
    """The report files in SANITIZER_LOGS (of one process when pid is given)."""
    if SANITIZER_LOGS is None or not os.path.isdir(SANITIZER_LOGS):
        return []
    names = sorted(os.listdir(SANITIZER_LOGS))
    if pid is not None:
        names = [n for n in names if n.rsplit(".", 1)[-1] == str(pid)]
    paths = [os.path.join(SANITIZER_LOGS, n) for n in names]
    return [p for p in paths if is_report(p)]


def read_reports(paths, limit=20000):
    text = ""
    for p in paths:
        with open(p, errors="replace") as f:
            text += "--- %s\n%s" % (p, f.read())
    return text[:limit]


def sanitizer_failure(pid, stderr):
    """The sanitizer report of one process, or None when it made none."""
    reports = sanitizer_reports(pid)
    if reports:
        return read_reports(reports)
    if any(m in stderr for m in SANITIZER_MARKERS):
        return stderr
    return None


@pytest.fixture(autouse=True)
def no_sanitizer_reports():
    """Fails the test during which any process (a server, a `bulwark` run
    by the test itself) wrote a sanitizer report."""
    before = set(sanitizer_reports())
    yield
    new = [p for p in sanitizer_reports() if p not in before]
    if new:
        pytest.fail("sanitizer report(s) during this test:\n" + read_reports(new), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    # reports written after the last test's check (module teardowns)
    if sanitizer_reports() and session.exitstatus == 0:
        session.exitstatus = 1
        print("\nsanitizer reports left in %s:\n%s" % (SANITIZER_LOGS, read_reports(sanitizer_reports())))


@pytest.fixture(scope="session")
def bulwark_bin():
    return require_binary()


@pytest.fixture(scope="session")
def demo():
    return require_demo()


def free_port(host="127.0.0.1"):
    """A port nobody holds right now (bound, then closed: it may be taken again
    before the server binds it, hence the retries in Server.start)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def fmt_addr(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def ipv6_loopback_works():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Server:
    """One `bulwark serve` process. stdout is read line by line in a thread so
    that tests can look for access-log lines; stderr is kept for messages."""

    def __init__(self, binary, demo, https_hosts=("127.0.0.1",), http_hosts=("127.0.0.1",),
                 threads=2, extra_args=(), fixed=None, policy=DEFAULT_POLICY, cert_args=True):
        self.binary = binary
        self.demo = demo
        self.policy = policy        # a policy file, or None for the one baked into the binary
        self.cert_args = cert_args  # pass --cert/--key (else they come from the policy's secrets)
        self.https_hosts = list(https_hosts)
        self.http_hosts = list(http_hosts)
        self.threads = threads
        self.extra_args = list(extra_args)
        self.fixed = fixed  # {"https": [(host, port)], "http": [...]} to skip port picking
        self.proc = None
        self.lines = []        # every stdout line, raw
        self.records = []      # every stdout line that parsed as a JSON object
        self._cond = threading.Condition()
        self._stderr = []
        self.listening = None
        self.returncode = None
        self.stopped = False

    # -- start / stop -----------------------------------------------------

    def start(self):
        last = ""
        for _ in range(PORT_RETRIES):
            if self.fixed:
                self.https = list(self.fixed.get("https", []))
                self.http = list(self.fixed.get("http", []))
            else:
                self.https = [(h, free_port(h)) for h in self.https_hosts]
                self.http = [(h, free_port(h)) for h in self.http_hosts]
            if self._launch():
                return self
            last = self.stderr
            # Another process took a picked port between our close and its bind:
            # pick again. Anything else is the server's failure to start.
            if self.fixed or "in use" not in last.lower():
                break
        pytest.fail("bulwark did not start (exit %s); stdout:\n%s\nstderr:\n%s"
                    % (self.returncode, "\n".join(self.lines), last), pytrace=False)

    def argv(self):
        a = [self.binary, "serve"]
        for h, p in self.https:
            a += ["--https", fmt_addr(h, p)]
        for h, p in self.http:
            a += ["--http", fmt_addr(h, p)]
        if self.policy is not None:
            a += ["--policy", self.policy]
        # demo stand-ins that only carry cert and key serve without a secrets directory
        if getattr(self.demo, "secrets", None):
            a += ["--secrets", self.demo.secrets]
        if self.cert_args:
            a += ["--cert", self.demo.cert, "--key", self.demo.key]
        a += ["--threads", str(self.threads)]
        # Every test serves under the image's seccomp allow-list: a syscall
        # the service needs but the list lacks kills the server and fails
        # the test that reached it (with a seccomp_violation line naming it).
        if SECCOMP:
            a += ["--seccomp"]
        return a + self.extra_args

    def _launch(self):
        self.lines, self.records, self._stderr, self.listening = [], [], [], None
        self.returncode = None
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._read_stdout, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(self.proc.stderr,), daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        with self._cond:
            while self.listening is None:
                if self.proc.poll() is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
        if self.listening is not None:
            return True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.returncode = self.proc.returncode
            time.sleep(0.1)
            pytest.fail("bulwark printed no 'listening' line within %d s; stdout:\n%s\nstderr:\n%s"
                        % (READY_TIMEOUT_S, "\n".join(self.lines), self.stderr), pytrace=False)
        self.returncode = self.proc.returncode
        time.sleep(0.1)  # let the reader threads drain
        return False

    def _read_stdout(self, f):
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            rec = None
            try:
                rec = json.loads(line)
            except ValueError:
                pass
            with self._cond:
                self.lines.append(line)
                if isinstance(rec, dict):
                    self.records.append(rec)
                    if self.listening is None and rec.get("event") == "listening":
                        self.listening = rec
                self._cond.notify_all()

    def _read_stderr(self, f):
        for raw in f:
            with self._cond:
                self._stderr.append(raw.decode("utf-8", "replace"))

    @property
    def stderr(self):
        with self._cond:
            return "".join(self._stderr)

    def terminate(self):
        """Send SIGTERM (the drain starts); does not wait."""
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout=EXIT_TIMEOUT_S):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("bulwark did not exit within %d s of SIGTERM; stderr:\n%s"
                        % (timeout, self.stderr), pytrace=False)
        self.check_sanitizers()
        return self.returncode

    def check_sanitizers(self):
        """A server that exited with a sanitizer report fails, whatever its
        exit status."""
        time.sleep(0.1)  # let the reader threads drain stderr
        report = sanitizer_failure(self.proc.pid, self.stderr)
        if report is not None:
            pytest.fail("bulwark (pid %d) wrote a sanitizer report:\n%s" % (self.proc.pid, report),
                        pytrace=False)

    def stop(self):
        """SIGTERM and hold the process to a clean exit: 0 within 12 s. A
        process that already died (a crash mid-module) fails here too."""
        if self.proc is None or self.stopped:
            return
        if self.proc.poll() is None:
            self.terminate()
        rc = self.wait_exit()
        self.stopped = True
        assert rc == 0, "bulwark exited %d after SIGTERM; stderr:\n%s" % (rc, self.stderr)

    # -- addresses ---------------------------------------------------------

    @property
    def port(self):
        return self.https[0][1]

    @property
    def http_port(self):
        return self.http[0][1]

    def url(self, path="/healthz", host="localhost"):
        return "https://%s:%d%s" % (host, self.port, path)

    # -- the access log ----------------------------------------------------

    def wait_record(self, pred, timeout=LOG_LAG_S):
        """The first stdout JSON record satisfying pred, waiting for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self.records:
                    if pred(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def wait_count(self, pred, n, timeout=LOG_LAG_S):
        """Wait until at least n stdout records satisfy pred; returns the count."""
        deadline = time.monotonic() + timeout
        seen, count = 0, 0
        with self._cond:
            while True:
                for r in self.records[seen:]:
                    count += bool(pred(r))
                seen = len(self.records)
                left = deadline - time.monotonic()
                if count >= n or left <= 0:
                    return count
                self._cond.wait(left)

    def request_record(self, request_id, timeout=LOG_LAG_S):
        rec = self.wait_record(lambda r: r.get("event") == "request"
                               and r.get("request_id") == request_id, timeout)
        assert rec is not None, ("no access-log line with request_id %r within %d s; stdout:\n%s"
                                 % (request_id, timeout, "\n".join(self.lines[-20:])))
        return rec

    def stdout_text(self):
        with self._cond:
            return "\n".join(self.lines)


@pytest.fixture(scope="module")
def server(bulwark_bin, demo):
    """A server shared by a test module: HTTPS and HTTP on 127.0.0.1."""
    s = Server(bulwark_bin, demo).start()
    yield s
    s.stop()


@pytest.fixture
def fresh_server(bulwark_bin, demo):
    """A server of the test's own, for tests that stop it themselves."""
    s = Server(bulwark_bin, demo)
    yield s
    if s.proc is not None and s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()


def run(cmd, timeout=30, **kw):
    """Run a client; a hung client is a test failure, not a hung suite."""
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        pytest.fail("%s did not finish within %d s" % (" ".join(cmd), timeout))


class HeaderAccess:
    """header() and json() over .headers (lower-case name -> list of values)
    and .body, shared by the response classes of the tests."""

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[-1] if v else None

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class Response(HeaderAccess):
    def __init__(self, rc, status, version, headers, body, verbose):
        self.rc = rc                # curl's exit code
        self.status = status        # int, 0 when no response
        self.version = version      # "1.1", "2"
        self.headers = headers      # lower-case name -> list of values
        self.body = body            # bytes
        self.verbose = verbose      # curl -v's stderr: handshake details

    def __repr__(self):
        return "<curl rc=%d status=%d HTTP/%s headers=%r body=%r>\n%s" % (
            self.rc, self.status, self.version, self.headers, self.body[:300], self.verbose[-2000:])


def curl(url, *args, ca=None, timeout=20):
    """One request with the real curl (HTTP/2-capable, verifying against ca
    when given). Returns the last response of the exchange."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        hdr, body = os.path.join(d, "h"), os.path.join(d, "b")
        cmd = ["curl", "-sS", "-v", "--max-time", str(timeout - 2), "-D", hdr, "-o", body,
               "-w", "%{http_code} %{http_version}"]
        if ca:
            cmd += ["--cacert", ca]
        cmd += list(args) + [url]
        r = run(cmd, timeout=timeout)
        headers = {}
        if os.path.exists(hdr):
            with open(hdr, "rb") as f:
                blocks = f.read().decode("latin-1").split("\r\n\r\n")
            blocks = [b for b in blocks if b.strip()]
            for line in (blocks[-1].split("\r\n")[1:] if blocks else []):
                if ":" in line:
                    k, _, v = line.partition(":")
                    headers.setdefault(k.strip().lower(), []).append(v.strip())
        data = b""
        if os.path.exists(body):
            with open(body, "rb") as f:
                data = f.read()
        out = r.stdout.decode().split()
        status = int(out[0]) if out and out[0].isdigit() else 0
        version = out[1] if len(out) > 1 else ""
        return Response(r.returncode, status, version, headers, data,
                        r.stderr.decode("utf-8", "replace"))


def parse_http1_response(data):
    """Parse one HTTP/1.1 response from bytes. Returns (status, headers, body)
    when the response is complete (Content-Length satisfied, or the last chunk
    seen), or None when it is not, so callers can tell truncation apart."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise AssertionError("not an HTTP/1.x status line: %r" % lines[0])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    te = ",".join(headers.get("transfer-encoding", [])).lower()
    if "chunked" in te:
        body, pos = b"", 0
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(rest[pos:eol].split(b";")[0], 16)
            start = eol + 2
            if size == 0:
                return int(parts[1]), headers, body
            if len(rest) < start + size + 2:
                return None
            body += rest[start:start + size]
            pos = start + size + 2
    if "content-length" in headers:
        n = int(headers["content-length"][0])
        return (int(parts[1]), headers, rest[:n]) if len(rest) >= n else None
    return int(parts[1]), headers, rest  # delimited by close: the caller read to EOF


def read_http1_response(sock, timeout=15):
    """Read from sock until one whole response has arrived (or EOF)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        got = parse_http1_response(data)
        if got is not None and ("content-length" in got[1] or "transfer-encoding" in got[1]):
            return got, data
        try:
            chunk = sock.recv(65536)
        except (ConnectionError, OSError) as e:
            return parse_http1_response(data) if data else None, data
        if not chunk:
            return parse_http1_response(data), data
        data += chunk
