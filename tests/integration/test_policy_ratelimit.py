"""DEFAULT-POLICY.md "Rate limits", black-box, on the native binary serving
policy/default.yaml:

- general: 100 per minute per client address, exact over HTTP/1.1 keep-alive
  on parallel connections, over HTTP/2 multiplexing, and both at once;
- POST /api/auth/login 5 per minute, POST /api/auth/password-reset 3 per hour;
- authenticated /api/ requests 1000 per hour per token subject, counted
  across addresses; made-up tokens from an address over its limit get 429,
  not a signature check;
- 429 {"detail": "Rate limit exceeded", "reference": <X-Request-ID>} with
  Retry-After, RateLimit-Policy and RateLimit; admitted responses carry the
  RateLimit fields too;
- X-Forwarded-For is ignored (no trusted proxies by default);
- /healthz is exempt.

Every test speaks from its own loopback address (127.0.0.N: Linux routes
all of 127/8 to lo), so each starts with a fresh budget.  GCRA gives one
request back every window/N, so "exact" means: never fewer than N admitted
in a burst and never more than N plus what came back while the burst ran.

Needs the rate limiter wired into `bulwark serve` and a way to serve a
policy: POLICY_ARGS below are the options this file expects.
"""

import json
import os
import re
import socket
import ssl
import subprocess
import threading
import time

import h2.config
import h2.connection
import h2.events
import pytest

from conftest import IMAGE_BUDGET, REPO, TARGET, TIME_SCALE, Server, curl, module_server, note_spent, read_http1_response

pytestmark = pytest.mark.integration

POLICY = os.path.join(REPO, "policy", "default.yaml")

GENERAL = 100            # per minute
GENERAL_INTERVAL_S = 0.6  # 60 s / 100: one request back every 0.6 s
LOGIN = 5                # per minute
LOGIN_INTERVAL_S = 12.0
RESET = 3                # per hour
RESET_INTERVAL_S = 1200.0
SUBJECT = 1000           # per hour per token subject
SUBJECT_INTERVAL_S = 3.6
IO_TIMEOUT_S = 10 * TIME_SCALE  # a login's PBKDF2 takes seconds in a TCG guest
LOGIN_PATH = "/api/auth/login"
RATELIMIT_RE = re.compile(r'^"([a-z0-9_-]+)";r=(\d+);t=(\d+)$')


def policy_args(demo):
    return ["--policy", POLICY, "--secrets", os.path.join(demo.root, "secrets")]


def start_rl_server(bulwark_bin, demo):
    usage = subprocess.run([bulwark_bin, "serve", "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10).stdout.decode("utf-8", "replace")
    if "--policy" not in usage:
        pytest.fail("`bulwark serve` takes no --policy yet: the rate limiter "
                    "(app/mw/ratelimit.c) is not wired into serve.c", pytrace=False)
    return Server(bulwark_bin, demo, extra_args=policy_args(demo)).start()


@pytest.fixture(scope="module")
def rl_server(request, demo):
    yield from module_server(request, demo, lambda binary: start_rl_server(binary, demo))


@pytest.fixture(autouse=True)
def full_budgets(request):
    """BULWARK_TARGET=image: every client is one address to the guest, so
    each test waits until that address has its whole budget back (the login
    limit's, as far as the client-side model knows, then the general one:
    the probe's own request comes back after one interval)."""
    if TARGET != "image" or "rl_server" not in request.fixturenames:
        return
    srv = request.getfixturevalue("rl_server")
    mark = request.node.get_closest_marker("image_requests")
    if mark:  # the test needs only that many (it spends the rest itself)
        srv.wait_for_budget(mark.args[0])
        return
    IMAGE_BUDGET.wait_full(LOGIN_PATH)
    srv.wait_for_budget(GENERAL - 1)
    time.sleep(GENERAL_INTERVAL_S + 0.2)


_next_ip = [10]
_ip_lock = threading.Lock()


def fresh_ip():
    """A loopback source address no other test of this module has used."""
    with _ip_lock:
        n = _next_ip[0]
        _next_ip[0] += 1
    return "127.0.%d.%d" % (n // 250, n % 250 + 2)


def tls(port, ca, ip, alpn):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols([alpn])
    raw = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S, source_address=(ip, 0))
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    assert s.selected_alpn_protocol() == alpn
    return s


# --- HTTP/1.1 ----------------------------------------------------------------

def h1_request(sock, method, path, headers=(), body=b""):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: localhost"]
    lines += ["%s: %s" % kv for kv in headers]
    if body or method == "POST":
        lines.append("Content-Length: %d" % len(body))
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    got, data = read_http1_response(sock, IO_TIMEOUT_S)
    assert got is not None, "no response: %r" % data[:300]
    status, hdrs, rbody = got
    return status, {k: v[-1] for k, v in hdrs.items()}, rbody


def h1_burst(port, ca, ip, conns, per_conn, method="GET", path="/", headers=(), body=b"",
             vary_headers=None):
    """conns keep-alive connections in parallel, per_conn requests each, one
    after another; returns every (status, headers, body)."""
    out, lock, errors = [], threading.Lock(), []

    def run(c):
        try:
            with tls(port, ca, ip, "http/1.1") as s:
                for i in range(per_conn):
                    extra = list(headers) + (vary_headers(c, i) if vary_headers else [])
                    r = h1_request(s, method, path, extra, body)
                    with lock:
                        out.append(r)
        except Exception as e:  # reported below, not lost in a thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60 * TIME_SCALE)
    assert not errors, errors
    return out


# --- HTTP/2 --------------------------------------------------------------------

def h2_burst(port, ca, ip, streams, path="/", extra=()):
    """All streams sent at once on one connection, then read; returns every
    (status, headers, body)."""
    with tls(port, ca, ip, "h2") as s:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                    header_encoding="utf-8"))
        conn.initiate_connection()
        sids = []
        for _ in range(streams):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"),
                                    (":authority", "localhost"), (":path", path)] + list(extra),
                              end_stream=True)
            sids.append(sid)
        s.sendall(conn.data_to_send())
        res = {sid: [None, b""] for sid in sids}
        ended = set()
        while ended != set(sids):
            data = s.recv(65536)
            assert data, "connection closed with %d streams open" % (len(sids) - len(ended))
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    res[ev.stream_id][0] = dict(ev.headers)
                elif isinstance(ev, h2.events.DataReceived):
                    res[ev.stream_id][1] += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    ended.add(ev.stream_id)
                elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    pytest.fail("server ended the exchange: %r" % ev)
            if conn.data_to_send():
                s.sendall(conn.data_to_send())
    return [(int(h[":status"]), h, b) for h, b in (res[sid] for sid in sids)]


def h2_parallel(port, ca, ip, conns, streams, **kw):
    out, lock, errors = [], threading.Lock(), []

    def run():
        try:
            r = h2_burst(port, ca, ip, streams, **kw)
            with lock:
                out.extend(r)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60 * TIME_SCALE)
    assert not errors, errors
    return out


# --- checks --------------------------------------------------------------------

def assert_exact(results, quota, interval_s, elapsed_s, what):
    statuses = [r[0] for r in results]
    admitted = sum(1 for st in statuses if st != 429)
    refused = statuses.count(429)
    regained = int(elapsed_s / interval_s) + 1
    assert quota <= admitted <= quota + regained, (
        "%s: %d admitted, %d refused in %.2f s; expected %d (+ at most %d regained)"
        % (what, admitted, refused, elapsed_s, quota, regained))
    assert admitted + refused == len(results), "%s: statuses %s" % (what, sorted(set(statuses)))
    return admitted


def timed(fn, *a, **kw):
    t0 = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t0


def lower(headers):
    return {k.lower(): v for k, v in headers.items()}


def assert_429(status, headers, body, limit):
    h = lower(headers)
    assert status == 429
    assert h.get("content-type", "").startswith("application/json")
    doc = json.loads(body)
    assert doc["detail"] == "Rate limit exceeded"
    assert doc["reference"] == h["x-request-id"]
    retry = int(h["retry-after"])
    assert retry >= 1
    m = RATELIMIT_RE.match(h["ratelimit"])
    assert m, h["ratelimit"]
    assert m.group(1) == limit and m.group(2) == "0"
    assert int(m.group(3)) == retry, "RateLimit t must equal Retry-After: %r" % h
    assert '"%s";' % limit in h["ratelimit-policy"]
    return retry


# --- the general limit -----------------------------------------------------------

def test_general_exact_h1_parallel_connections(rl_server, demo):
    ip = fresh_ip()
    results, dt = timed(h1_burst, rl_server.port, demo.ca, ip, conns=4, per_conn=40)
    assert_exact(results, GENERAL, GENERAL_INTERVAL_S, dt, "HTTP/1.1, 4 connections")


def test_general_exact_h2_multiplexed(rl_server, demo):
    ip = fresh_ip()
    results, dt = timed(h2_parallel, rl_server.port, demo.ca, ip, conns=2, streams=80)
    assert_exact(results, GENERAL, GENERAL_INTERVAL_S, dt, "HTTP/2, 2 x 80 streams")


def test_general_exact_h1_and_h2_together(rl_server, demo):
    ip = fresh_ip()
    out = {}

    def h1():
        out["h1"] = h1_burst(rl_server.port, demo.ca, ip, conns=3, per_conn=30)

    def h2_():
        out["h2"] = h2_parallel(rl_server.port, demo.ca, ip, conns=2, streams=40)

    t0 = time.monotonic()
    threads = [threading.Thread(target=h1), threading.Thread(target=h2_)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    dt = time.monotonic() - t0
    assert_exact(out["h1"] + out["h2"], GENERAL, GENERAL_INTERVAL_S, dt, "HTTP/1.1 and HTTP/2 at once")


def test_admitted_responses_carry_ratelimit_fields(rl_server, demo):
    ip = fresh_ip()
    r = curl(rl_server.url("/"), "--interface", ip, ca=demo.ca)
    assert r.status == 200, r
    assert r.header("ratelimit-policy") == '"general";q=100;w=60', r
    assert r.header("ratelimit") == '"general";r=99;t=1', r
    r = curl(rl_server.url("/nope"), "--interface", ip, ca=demo.ca)
    assert r.status == 404 and r.header("ratelimit") == '"general";r=98;t=1', r


def test_429_body_and_headers(rl_server, demo):
    ip = fresh_ip()
    results = h1_burst(rl_server.port, demo.ca, ip, conns=1, per_conn=GENERAL + 5)
    refused = [r for r in results if r[0] == 429]
    assert refused, "no 429 after %d requests" % len(results)
    for status, headers, body in refused:
        retry = assert_429(status, headers, body, "general")
        assert retry == 1  # one request back every 0.6 s
        assert lower(headers)["ratelimit-policy"] == '"general";q=100;w=60'
    # and over HTTP/2, with curl
    r = curl(rl_server.url("/"), "--http2", "--interface", ip, ca=demo.ca)
    assert r.version == "2"
    assert_429(r.status, {k: v[-1] for k, v in r.headers.items()}, r.body, "general")
    # the same body the access log refers to
    rec = rl_server.request_record(r.json()["reference"])
    assert rec["status"] == 429


def test_recovers_one_request_per_interval(rl_server, demo):
    ip = fresh_ip()
    h1_burst(rl_server.port, demo.ca, ip, conns=1, per_conn=GENERAL + 5)
    time.sleep(GENERAL_INTERVAL_S * 2 + 0.1)
    results = h1_burst(rl_server.port, demo.ca, ip, conns=1, per_conn=5)
    admitted = sum(1 for r in results if r[0] != 429)
    assert 2 <= admitted <= 3, [r[0] for r in results]


def test_x_forwarded_for_is_ignored(rl_server, demo):
    ip = fresh_ip()
    spoof = lambda c, i: [("X-Forwarded-For", "198.51.%d.%d" % (c, i + 1))]
    results, dt = timed(h1_burst, rl_server.port, demo.ca, ip, conns=2, per_conn=70,
                        vary_headers=spoof)
    assert_exact(results, GENERAL, GENERAL_INTERVAL_S, dt, "spoofed X-Forwarded-For")


@pytest.mark.image_requests(10)
def test_healthz_is_exempt(rl_server, demo):
    ip = fresh_ip()
    h1_burst(rl_server.port, demo.ca, ip, conns=1, per_conn=GENERAL + 5)
    # spend what came back during the burst (a slow server), on one
    # connection, until the general limit refuses
    with tls(rl_server.port, demo.ca, ip, "http/1.1") as s:
        for _ in range(GENERAL):
            if h1_request(s, "GET", "/")[0] == 429:
                break
        else:
            pytest.fail("the general limit never refused")
    exhausted_at = time.monotonic()
    results = h1_burst(rl_server.port, demo.ca, ip, conns=2, per_conn=60, path="/healthz")
    assert all(r[0] == 200 for r in results), sorted(set(r[0] for r in results))
    assert all("ratelimit" not in lower(r[1]) for r in results)
    # and /healthz did not spend anything: the general limit still refuses,
    # or admits only what came back since the budget ran out (GCRA returns
    # one request per interval, the first of them any time after the 429)
    st, headers, _ = h1_burst(rl_server.port, demo.ca, ip, conns=1, per_conn=1)[0]
    dt = time.monotonic() - exhausted_at
    if st != 429:
        m = RATELIMIT_RE.match(lower(headers).get("ratelimit", ""))
        assert st == 200 and m, (st, headers)
        assert int(m.group(2)) <= int(dt / GENERAL_INTERVAL_S), (headers, dt)


# --- route limits -------------------------------------------------------------------

JSON = [("Content-Type", "application/json")]


def test_login_five_per_minute(rl_server, demo):
    """Every POST counts, whatever its body: four malformed ones (422 from
    the input layer, after the limit; no password hash, so the burst is
    quick even where PBKDF2 takes seconds) and a wrong password (401), then
    three more that the limit refuses before reading them."""
    ip = fresh_ip()
    malformed = json.dumps({"username": "alice"}).encode()
    wrong = json.dumps({"username": "alice", "password": "wrong"}).encode()
    started = time.monotonic()
    results = []
    with tls(rl_server.port, demo.ca, ip, "http/1.1") as s:
        for body in [malformed] * (LOGIN - 1) + [wrong] + [malformed] * 3:
            results.append(h1_request(s, "POST", "/api/auth/login", JSON, body))
    dt = time.monotonic() - started
    note_spent(LOGIN_PATH, LOGIN)
    statuses = [r[0] for r in results]
    assert statuses[:LOGIN] == [422] * (LOGIN - 1) + [401], statuses
    if dt >= LOGIN_INTERVAL_S:  # a slow server (TCG) may have given one back meanwhile
        results = results[LOGIN + int(dt / LOGIN_INTERVAL_S):]
    else:
        results = results[LOGIN:]
    assert results, ("the burst took so long that no refusal can be expected", dt)
    for status, headers, rbody in results:
        retry = assert_429(status, headers, rbody, "login")
        assert 1 <= retry <= LOGIN_INTERVAL_S
        assert lower(headers)["ratelimit-policy"] == '"general";q=100;w=60, "login";q=5;w=60'
    # The general limit was charged by the admitted logins only. Each login
    # costs ~0.5 s of PBKDF2, so the general limit (one request back every
    # 0.6 s) recovers meanwhile: allow exactly what the elapsed time returns.
    ok = h1_burst(rl_server.port, demo.ca, ip, conns=1, per_conn=1)[0]
    recovered = int((time.monotonic() - started) / (60.0 / GENERAL)) + 1
    m = re.fullmatch(r'"general";r=(\d+);t=\d+', lower(ok[1])["ratelimit"])
    assert m, ok[1]
    low = GENERAL - LOGIN - 1
    assert low <= int(m.group(1)) <= min(GENERAL - 1, low + recovered), (ok[1], recovered)


@pytest.mark.image_requests(10)
def test_password_reset_three_per_hour(rl_server, demo):
    ip = fresh_ip()
    # a demo user's address, unknown ones: the same answer for each
    emails = ["alice@bulwark.test", "nobody@example.com", "alice@example.com", "bob@bulwark.test",
              "x@example.org"]
    results = []
    with tls(rl_server.port, demo.ca, ip, "http/1.1") as s:
        for e in emails[:RESET + 2]:
            results.append(h1_request(s, "POST", "/api/auth/password-reset", JSON,
                                      json.dumps({"email": e}).encode()))
    note_spent("/api/auth/password-reset", RESET)
    statuses = [r[0] for r in results]
    assert statuses[:RESET] == [202] * RESET, statuses
    assert len(set(r[2] for r in results[:RESET])) == 1, [r[2] for r in results[:RESET]]
    for status, headers, rbody in results[RESET:]:
        retry = assert_429(status, headers, rbody, "password_reset")
        assert RESET_INTERVAL_S - 60 <= retry <= RESET_INTERVAL_S


# --- the token-subject limit ----------------------------------------------------------

def login_token(port, ca, user):
    with open(os.path.join(os.path.dirname(ca), "credentials.json")) as f:
        password = json.load(f)[user]
    body = json.dumps({"username": user, "password": password}).encode()
    with tls(port, ca, fresh_ip(), "http/1.1") as s:
        status, _, rbody = h1_request(s, "POST", "/api/auth/login", JSON, body)
    assert status == 200, rbody
    return json.loads(rbody)["access_token"]


@pytest.mark.native_only("eleven client addresses; the image sees one")
def test_subject_limit_counts_across_addresses(rl_server, demo):
    token = login_token(rl_server.port, demo.ca, "alice")
    auth = [("authorization", "Bearer " + token)]
    per_ip = 95  # under the general limit of each address
    ips = [fresh_ip() for _ in range(11)]
    out, lock = [], threading.Lock()

    def run(ip):
        r = h2_burst(rl_server.port, demo.ca, ip, per_ip, path="/api/users/me", extra=auth)
        with lock:
            out.extend(r)

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(ip,)) for ip in ips]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    dt = time.monotonic() - t0
    assert_exact(out, SUBJECT, SUBJECT_INTERVAL_S, dt, "one subject from 11 addresses")
    refused = [r for r in out if r[0] == 429]
    for status, headers, body in refused:
        assert_429(status, headers, body, "api_subject")
    admitted = [r for r in out if r[0] == 200]
    assert '"api_subject";q=1000;w=3600' in admitted[0][1]["ratelimit-policy"]


@pytest.mark.image_requests(10)
def test_bogus_tokens_stopped_by_address_limit(rl_server, demo):
    """Over its address limit, a client gets 429 for made-up tokens: the
    limit comes before (and saves) the signature check, which would say 401."""
    ip = fresh_ip()
    h1_burst(rl_server.port, demo.ca, ip, conns=1, per_conn=GENERAL + 5)
    bogus = lambda c, i: [("Authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.%d" % i)]
    results = h1_burst(rl_server.port, demo.ca, ip, conns=2, per_conn=20, path="/api/users/me",
                       vary_headers=bogus)
    statuses = [r[0] for r in results]
    assert all(st == 429 for st in statuses), sorted(set(statuses))
    for status, headers, body in results:
        assert_429(status, headers, body, "general")
