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
# What the tests of the default policy run against: "native" (a `bulwark
# serve` process per test module) or "image" (the release image booted once
# per session under QEMU; see "Against the booted image" below and
# tests/README.md).
TARGET = os.environ.get("BULWARK_TARGET", "native")
# Under TCG the guest is several times slower than the host: 4 unless set.
TIME_SCALE = float(os.environ.get("BULWARK_TIME_SCALE", "4" if TARGET == "image" else "1"))
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

    # what the log names a client connecting from 127.0.0.1
    client_address = "127.0.0.1"

    def https_origin(self, name):
        """Where the plain-HTTP redirect sends a client asking for host
        `name`: the HTTPS port the service itself listens on (the guest's
        443, which a URL leaves out, behind QEMU's forwarded port)."""
        port = self.listen_https_port
        return "https://%s" % name if port == 443 else "https://%s:%d" % (name, port)

    @property
    def listen_https_port(self):
        return self.port

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
            self._record(line, rec)

    def _record(self, line, rec):
        """One log line, and its JSON record when it is one."""
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


def module_server(request, demo, start):
    """The body of a module's `server` fixture: the booted image when
    BULWARK_TARGET=image, else start(binary) -> a started Server, stopped
    when the module ends. (Not a dependency on `bulwark_bin`: a test whose
    fixtures need the binary starts its own process and is native-only.)"""
    if TARGET == "image":
        yield request.getfixturevalue("image_server")
        return
    s = start(require_binary())
    yield s
    s.stop()


@pytest.fixture(scope="module")
def server(request, demo):
    """A server shared by a test module: HTTPS and HTTP on 127.0.0.1 (or the
    booted image's forwarded ports)."""
    yield from module_server(request, demo, lambda binary: Server(binary, demo).start())


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



def dribble_until_closed(sock, interval_s, max_s):
    """Sends the start of a request head, then one more header byte every
    interval_s, never completing it, until the server closes the connection
    or max_s pass. Returns the seconds until the close, or None."""
    start = time.monotonic()
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        while time.monotonic() - start < max_s:
            try:
                sock.sendall(b"X")
            except (ConnectionError, OSError):
                return time.monotonic() - start
            sock.settimeout(interval_s)
            try:
                if sock.recv(1024) == b"":
                    return time.monotonic() - start
            except (TimeoutError, OSError) as e:
                if "timed out" not in str(e):
                    return time.monotonic() - start
    finally:
        sock.close()
    return None

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
    import urllib.parse
    pace(urllib.parse.urlsplit(url).path)
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
        except (ConnectionError, OSError):
            return parse_http1_response(data) if data else None, data
        if not chunk:
            return parse_http1_response(data), data
        data += chunk


# --- Against the booted image ---------------------------------------------------
#
# BULWARK_TARGET=image: the tests that talk only to the default policy's
# server (the `server` fixture, or `image_server`) run against the release
# image (build/image, $BULWARK_IMAGE) booted once per session under QEMU with
# the demo secrets volume, through the forwarded HTTPS and HTTP ports. Tests
# that start processes of their own (anything needing `bulwark_bin`: custom
# policies, signals, start-up errors) and tests marked native_only are
# deselected. The console carries the JSON log: `records`, `wait_record` and
# `request_record` read it.
#
# QEMU's user networking shows every client as one address (10.0.2.2), so the
# per-address limits of the default policy count the whole suite as one
# client: before and after each test the remaining general budget is read off
# a probe's RateLimit field and the test waits until enough is left (see
# image_request_budget), and requests to the login and password-reset routes
# are paced on a client-side model of their limits (pace()).

IMAGE_PROFILE = os.environ.get("BULWARK_IMAGE_PROFILE", "microvm")
# qemu/run kills the guest after this long, whatever happens to the session.
IMAGE_SESSION_LIMIT_S = int(os.environ.get("BULWARK_IMAGE_SESSION_LIMIT", "1800"))
# The address every client has inside the guest (QEMU user networking).
IMAGE_CLIENT_ADDRESS = "10.0.2.2"
# The fixtures that are the default policy's server (image-capable tests use one).
IMAGE_FIXTURES = ("server", "rl_server", "image_server")
# General requests a test may make without saying more (@pytest.mark.image_requests(n)).
IMAGE_REQUESTS_DEFAULT = 30
GENERAL_INTERVAL_S = 0.6     # 100 per minute
# Per-address route limits of policy/default.yaml: (interval s, burst, kept in hand).
ROUTE_LIMITS = {"/api/auth/login": (12.0, 5, 1), "/api/auth/password-reset": (1200.0, 3, 0)}
# Longest wait for a budget before the test fails (it asked for more than a
# single address can get in reasonable time: mark it native_only).
BUDGET_WAIT_MAX_S = 150


def pytest_configure(config):
    if TARGET not in ("native", "image"):
        raise pytest.UsageError("BULWARK_TARGET=%r: use native or image" % TARGET)


def image_capable(item):
    names = getattr(item, "fixturenames", ())
    if item.get_closest_marker("native_only") or "bulwark_bin" in names:
        return False
    return any(f in names for f in IMAGE_FIXTURES)


def read_selection(path):
    """The lines of a selection file: test ids (file::function, or with
    [params] for one case), '#' comments."""
    with open(path) as f:
        lines = [l.split("#", 1)[0].strip() for l in f]
    return [l for l in lines if l]


def pytest_collection_modifyitems(config, items):
    """native: tests of the booted image only (they ask for `image_server`)
    are left out; image: everything but the image-capable tests, and with
    BULWARK_IMAGE_SELECTION=FILE only those it lists."""
    if TARGET == "image":
        keep = [i for i in items if image_capable(i)]
        selection = os.environ.get("BULWARK_IMAGE_SELECTION")
        if selection:
            wanted = read_selection(selection)
            chosen = [i for i in keep if i.nodeid in wanted or i.nodeid.split("[")[0] in wanted]
            found = set(i.nodeid for i in chosen) | set(i.nodeid.split("[")[0] for i in chosen)
            missing = [w for w in wanted if w not in found]
            if missing:
                raise pytest.UsageError("%s names tests that were not collected or are not "
                                        "image-capable: %s" % (selection, ", ".join(missing)))
            keep = chosen
    else:
        keep = [i for i in items if "image_server" not in getattr(i, "fixturenames", ())]
    if len(keep) != len(items):
        dropped = [i for i in items if i not in keep]
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


class ImageBudget:
    """A client-side GCRA model of the per-address route limits (login
    5/min, password reset 3/h): pace() waits until the route has room for
    one more request, keeping `kept` in hand for requests the model misses
    (it starts each request's clock at send; the server at arrival)."""

    def __init__(self):
        self.tat = {}
        self.lock = threading.Lock()

    def pace(self, path):
        limit = ROUTE_LIMITS.get(path.split("?")[0])
        if limit is None:
            return
        interval, burst, kept = limit
        with self.lock:
            now = time.monotonic()
            wait = max(self.tat.get(path, 0.0), now) - now - (burst - 1 - kept) * interval
            if wait > BUDGET_WAIT_MAX_S:
                pytest.fail("%s: the one client address the image sees has no budget left on this "
                            "route for %.0f s (%d per %.0f s): mark the test native_only"
                            % (path, wait, burst, burst * interval), pytrace=False)
            if wait > 0:
                time.sleep(wait)
            now = time.monotonic()
            self.tat[path] = max(self.tat.get(path, 0.0), now) + interval

    def spent(self, path, n):
        """n requests to path went out past pace() (bursts of raw requests)."""
        interval = ROUTE_LIMITS[path][0]
        with self.lock:
            self.tat[path] = max(self.tat.get(path, 0.0), time.monotonic()) + n * interval

    def wait_full(self, path):
        """Until the route's whole burst is available again."""
        interval, _, _ = ROUTE_LIMITS[path]
        with self.lock:
            wait = self.tat.get(path, 0.0) - time.monotonic() + 1.0
        if wait > BUDGET_WAIT_MAX_S:
            pytest.fail("%s: no full budget for %.0f s" % (path, wait), pytrace=False)
        if wait > 0:
            time.sleep(wait)


IMAGE_BUDGET = ImageBudget()


def pace(path):
    """Called by the clients before a request to `path`: paces the login and
    password-reset routes when the target is the image (a no-op natively,
    where every client has an address of its own)."""
    if TARGET == "image":
        IMAGE_BUDGET.pace(path.decode("latin-1") if isinstance(path, bytes) else str(path))


def note_spent(path, n):
    """A test that sent n requests to a paced route without pace()."""
    if TARGET == "image":
        IMAGE_BUDGET.spent(path, n)


class ImageServer(Server):
    """The booted release image, as the tests see a Server: the forwarded
    ports on 127.0.0.1, the console's JSON lines as its records. stop() does
    nothing: the session fixture powers the guest down."""

    client_address = IMAGE_CLIENT_ADDRESS

    def __init__(self, demo):
        super().__init__(None, demo)
        self.guest = None
        self.budget_checked = False

    def attach(self, guest):
        self.guest = guest
        self.https = [("127.0.0.1", guest.https_port)]
        self.http = [("127.0.0.1", guest.http_port)]

    def feed(self, line):
        """A console line (from the guest's reader thread)."""
        line = line.rstrip("\r\n")
        rec = None
        if "{" in line:
            try:
                rec = json.loads(line[line.index("{"):])
            except ValueError:
                pass
        self._record(line, rec)

    def stop(self):
        pass

    # the guest serves HTTPS on 443; the host reaches it through self.port
    listen_https_port = 443

    # the serial console lags more than a pipe, and TCG is slow
    def wait_record(self, pred, timeout=LOG_LAG_S):
        return super().wait_record(pred, timeout * TIME_SCALE)

    def wait_count(self, pred, n, timeout=LOG_LAG_S):
        return super().wait_count(pred, n, timeout * TIME_SCALE)

    def request_record(self, request_id, timeout=LOG_LAG_S):
        return super().request_record(request_id, timeout * TIME_SCALE)

    # -- the general rate limit ----------------------------------------------

    def general_left(self):
        """What the general limit has left for us, read off the RateLimit
        field of a 404 (which itself costs one)."""
        import http.client
        import re
        import ssl
        ctx = ssl.create_default_context(cafile=self.demo.ca)
        conn = http.client.HTTPSConnection("localhost", self.port, timeout=30 * TIME_SCALE, context=ctx)
        try:
            conn.request("GET", "/image-budget-probe")
            r = conn.getresponse()
            r.read()
            field = r.getheader("RateLimit") or ""
        finally:
            conn.close()
        m = re.search(r'"general";r=(\d+)', field)
        if r.status not in (404, 429) or (r.status == 404 and not m):
            pytest.fail("budget probe: %d with RateLimit %r" % (r.status, field), pytrace=False)
        return int(m.group(1)) if m else 0

    def wait_for_budget(self, need):
        deadline = time.monotonic() + BUDGET_WAIT_MAX_S
        while True:
            left = self.general_left()
            if left >= need:
                return left
            if time.monotonic() > deadline:
                pytest.fail("the general limit left %d requests, %d needed" % (left, need), pytrace=False)
            time.sleep((need - left) * GENERAL_INTERVAL_S + 0.3)


def check_image_identity(srv, demo):
    """The image's demo secrets volume must be build/demo's identity: the
    served certificate is build/demo/secrets/tls-cert.pem and the JWKS key
    is the public half of build/demo/jwt-signing-key.pem."""
    import base64
    import ssl
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    hint = ("build/image/secrets-demo.img does not carry build/demo's identity (%s): "
            "rebuild the image (./build.sh image)")
    with open(demo.cert, "rb") as f:
        want = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
    ctx = ssl.create_default_context(cafile=demo.ca)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30 * TIME_SCALE) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            got = s.getpeercert(binary_form=True)
    if got != want:
        pytest.fail(hint % "another TLS certificate", pytrace=False)
    r = curl(srv.url("/.well-known/jwks.json"), ca=demo.ca, timeout=int(30 * TIME_SCALE))
    with open(os.path.join(demo.root, "jwt-signing-key.pem"), "rb") as f:
        nums = serialization.load_pem_private_key(f.read(), password=None).public_key().public_numbers()
    x = base64.urlsafe_b64encode(nums.x.to_bytes(32, "big")).rstrip(b"=").decode()
    if r.status != 200 or not any(k.get("x") == x for k in r.json().get("keys", [])):
        pytest.fail(hint % "another JWT signing key", pytrace=False)


@pytest.fixture(scope="session")
def image_server(demo):
    """The release image booted once (qemu/run, BULWARK_IMAGE_PROFILE,
    microvm by default) with its demo secrets volume; powered down at the
    end, with hard limits on boot and exit. The serving process must not
    have died meanwhile (PID 1 would have restarted it, resetting the rate
    limits: one worker_exit, status 0, at power-off)."""
    from system.conftest import BOOT_LIMIT_S, EXIT_LIMIT_S, Guest, boot_args, release_file
    demo_img = release_file("secrets-demo.img")
    srv = ImageServer(demo)
    g = Guest(IMAGE_PROFILE, "--secrets", demo_img, *boot_args(IMAGE_PROFILE, release_file),
              limit=IMAGE_SESSION_LIMIT_S, on_line=srv.feed)
    try:
        srv.attach(g)
        g.wait_for(r'"event":"listening"', BOOT_LIMIT_S[IMAGE_PROFILE] + 30)
        srv.booted_at = time.monotonic()
        check_image_identity(srv, demo)
        yield srv
        try:
            g.qmp("system_powerdown")
        except (OSError, ValueError, AssertionError):
            pass  # no QMP: the exit wait below fails and kills it
        rc = g.wait_exit(EXIT_LIMIT_S)
        exits = [r for r in srv.records if r.get("event") == "worker_exit"]
        assert rc == 0 and len(exits) == 1 and exits[0].get("exit_status") == 0, (
            "the image's serving process exited during the session (or QEMU exited %s): %r\n%s"
            % (rc, exits, g.console[-3000:]))
    finally:
        g.close()


@pytest.fixture(autouse=True)
def image_request_budget(request):
    """BULWARK_TARGET=image: before and after each test of the server, wait
    until the general limit has IMAGE_REQUESTS_DEFAULT (or the test's
    image_requests(n)) requests left for the one address all clients share."""
    if TARGET != "image" or "server" not in request.fixturenames:
        yield
        return
    srv = request.getfixturevalue("server")
    mark = request.node.get_closest_marker("image_requests")
    need = mark.args[0] if mark else IMAGE_REQUESTS_DEFAULT
    if not srv.budget_checked or need > IMAGE_REQUESTS_DEFAULT:
        srv.wait_for_budget(need)
    srv.budget_checked = False
    yield
    srv.wait_for_budget(IMAGE_REQUESTS_DEFAULT)
    srv.budget_checked = True
