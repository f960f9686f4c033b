"""SIGTERM drains: a request in flight when the signal arrives still gets a
complete response, no new connection is accepted, and the process exits 0
within 12 s."""

import socket
import ssl
import threading
import time

import pytest

from conftest import EXIT_TIMEOUT_S, read_http1_response

pytestmark = pytest.mark.integration

BODY = b"x" * 20
STEP_S = 0.1  # 20 bytes, one every 0.1 s: about 2 s of upload


def tls_connect(port, ca, alpn="http/1.1"):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols([alpn])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def refused(port):
    """True when a new TCP connection (or TLS handshake on it) is refused."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return True
    s.close()
    return False


def test_sigterm_lets_inflight_upload_finish(fresh_server, demo):
    s = fresh_server.start()
    sock = tls_connect(s.port, demo.ca)
    sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 b"X-Request-ID: drain-1\r\nContent-Length: %d\r\n\r\n" % len(BODY))
    half = len(BODY) // 2
    for i in range(half):
        sock.sendall(BODY[i:i + 1])
        time.sleep(STEP_S)
    t0 = time.monotonic()
    s.terminate()
    # New connections must be refused while the upload is still in flight.
    deadline = time.monotonic() + 2
    while not refused(s.port):
        assert time.monotonic() < deadline, "new connections still accepted 2 s after SIGTERM"
        time.sleep(0.05)
    assert s.proc.poll() is None, "bulwark exited with a request in flight (rc %s)" % s.proc.poll()
    for i in range(half, len(BODY)):
        sock.sendall(BODY[i:i + 1])
        time.sleep(STEP_S)
    got, raw = read_http1_response(sock)
    sock.close()
    assert got is not None, "no complete response to the in-flight request: %r" % raw
    status, headers, body = got
    assert 200 <= status < 600, raw
    assert status not in (408, 500, 502, 503), "in-flight request failed during drain: %r" % raw
    rc = s.wait_exit(EXIT_TIMEOUT_S - (time.monotonic() - t0))
    assert rc == 0, "exit %d after SIGTERM; stderr:\n%s" % (rc, s.stderr)
    s.stopped = True


def test_sigterm_with_idle_keepalive_connections_exits(fresh_server, demo):
    # Idle keep-alive connections (HTTP/1.1 and HTTP/2) must not hold the
    # process past the drain limit.
    s = fresh_server.start()
    socks = []
    for alpn in ("http/1.1", "h2"):
        c = tls_connect(s.port, demo.ca, alpn)
        if alpn == "http/1.1":
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            got, raw = read_http1_response(c)
            assert got and got[0] == 200, raw
        socks.append(c)
    t0 = time.monotonic()
    s.terminate()
    rc = s.wait_exit()
    s.stopped = True
    assert rc == 0, s.stderr
    assert time.monotonic() - t0 < EXIT_TIMEOUT_S
    for c in socks:
        c.close()


def test_sigterm_when_idle_exits_promptly(fresh_server):
    s = fresh_server.start()
    t0 = time.monotonic()
    s.terminate()
    rc = s.wait_exit()
    s.stopped = True
    assert rc == 0, s.stderr
    # Nothing to drain: no reason to sit out the 10 s limit.
    assert time.monotonic() - t0 < 5, "idle server took %.1f s to exit" % (time.monotonic() - t0)


LOAD_CLIENTS = 4
LOAD_WARMUP = 20  # answered requests per connection before SIGTERM


def test_sigterm_mid_load_logs_every_completed_request(fresh_server, demo):
    # Event-loop threads batch their access-log lines (app/log.h).  A
    # request that got its response must still have its line after SIGTERM
    # arrives mid-load and the process exits, and each connection's lines
    # must come out whole and in the order its requests were answered.
    s = fresh_server.start()
    answered = [[] for _ in range(LOAD_CLIENTS)]  # request ids, per connection, in order
    progress = threading.Semaphore(0)

    def client(k):
        try:
            sock = tls_connect(s.port, demo.ca)
        except OSError:
            return
        try:
            for i in range(100000):
                rid = "load-%d-%d" % (k, i)
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: %s\r\n\r\n" % rid.encode())
                got, _ = read_http1_response(sock)
                if got is None:
                    break
                answered[k].append(rid)
                if len(answered[k]) == LOAD_WARMUP:
                    progress.release()
                if "close" in [v.lower() for v in got[1].get("connection", [])]:
                    break
        except OSError:
            pass
        finally:
            sock.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(LOAD_CLIENTS)]
    for t in threads:
        t.start()
    for _ in range(LOAD_CLIENTS):
        assert progress.acquire(timeout=60), "the load did not get going: %r" % [len(a) for a in answered]
    s.terminate()
    rc = s.wait_exit()
    s.stopped = True
    assert rc == 0, "exit %d after SIGTERM; stderr:\n%s" % (rc, s.stderr)
    for t in threads:
        t.join(30)
    # "stopped" is the process's last line: once read, stdout is complete
    assert s.wait_record(lambda r: r.get("event") == "stopped") is not None, s.stdout_text()[-2000:]
    assert all(l.startswith("{") and l.endswith("}") for l in s.lines), "a line was cut or merged"
    logged = [r["request_id"] for r in s.records if r.get("event") == "request"]
    for k in range(LOAD_CLIENTS):
        mine = [rid for rid in logged if rid.startswith("load-%d-" % k)]
        # the last request may have been answered as the client gave up reading
        assert mine[:len(answered[k])] == answered[k], (
            "connection %d: %d answered, %d logged; first difference at %s" % (
                k, len(answered[k]), len(mine),
                next((i for i, (a, b) in enumerate(zip(mine, answered[k])) if a != b), min(len(mine), len(answered[k])))))
        assert len(mine) <= len(answered[k]) + 1
