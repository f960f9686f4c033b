"""Clients for the policy tests: raw HTTP/1.1 over verified TLS (for what
curl will not send: duplicate or missing Host, absolute-form targets, huge
heads) and a raw HTTP/2 exchange with python3-h2 (for :authority tricks and
header sets curl rewrites). Every socket operation has a timeout."""

import json
import os
import re
import select
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events

from conftest import HeaderAccess, pace, parse_http1_response

IO_TIMEOUT_S = 10

# DEFAULT-POLICY.md, "Headers on every response"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "permissions-policy": "geolocation=(), microphone=(), camera=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
HSTS = "max-age=63072000; includeSubDomains"
LANDING_CSP_RE = re.compile(r"^default-src 'none'; .*style-src 'self'.*img-src 'self'.*frame-ancestors 'none'")


_source_counter = [0]


def next_source():
    """A fresh loopback source address (127.88.x.y) per call: the rate
    limits key on the client address, and these tests are about other
    layers, so each request comes from its own client."""
    _source_counter[0] += 1
    n = _source_counter[0]
    return "127.88.%d.%d" % ((n // 250) % 250, n % 250 + 1)


def tls_socket(port, ca, alpn=("http/1.1",), server_hostname="localhost", timeout=IO_TIMEOUT_S):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(list(alpn))
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(next_source(), 0))
    try:
        s = ctx.wrap_socket(raw, server_hostname=server_hostname)
    except Exception:
        raw.close()
        raise
    s.settimeout(timeout)
    return s


class Raw(HeaderAccess):
    """One HTTP/1.1 response read off a raw connection."""

    def __init__(self, status, headers, body, data, closed):
        self.status = status
        self.headers = headers    # lower-case name -> [values]
        self.body = body
        self.data = data
        self.closed = closed      # the server closed the connection after it

    def __repr__(self):
        return "<raw status=%d closed=%s headers=%r body=%r>" % (
            self.status, self.closed, self.headers, self.body[:300])


def _parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return int(lines[0].split(" ")[1]), headers, b""


def _read_closed(sock, wait):
    """Whether the peer closes the connection within wait seconds."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except (ConnectionError, OSError, ssl.SSLError):
        return True


def h1_raw(port, ca, raw, close_wait=None, tls=True):
    """Send raw bytes, read one response; status 0 when none came. With
    close_wait, also wait that long to see whether the server closes."""
    pace(raw.split(b" ", 2)[1].decode("latin-1") if raw.count(b" ") >= 2 else "")
    sock = tls_socket(port, ca) if tls else socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
    try:
        sock.sendall(raw)
        data = b""
        got = None
        deadline = time.monotonic() + IO_TIMEOUT_S
        while time.monotonic() < deadline:
            got = parse_http1_response(data) if data else None
            if got is not None and ("content-length" in got[1] or "transfer-encoding" in got[1]):
                break
            try:
                chunk = sock.recv(65536)
            except (ConnectionError, OSError, ssl.SSLError):
                chunk = b""
            if not chunk:
                got = parse_http1_response(data) if data else None
                if got is None and b"\r\n\r\n" in data:  # a head without its body (HEAD)
                    got = _parse_head(data.split(b"\r\n\r\n")[0])
                return Raw(got[0], got[1], got[2], data, True) if got else Raw(0, {}, b"", data, True)
            data += chunk
        if got is None:
            return Raw(0, {}, b"", data, False)
        closed = _read_closed(sock, close_wait) if close_wait else False
        return Raw(got[0], got[1], got[2], data, closed)
    finally:
        sock.close()


def h1_request(method, target, headers=(), body=b"", host="localhost", version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, target, version)]
    if host is not None:
        lines.append("Host: " + host)
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class H2Response:
    def __init__(self, headers, body, reset):
        self.headers = headers or {}   # name -> last value, ":status" included
        self.body = body
        self.reset = reset             # the stream was reset (no response)

    @property
    def status(self):
        return int(self.headers.get(":status", 0))

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<h2 status=%d reset=%s headers=%r body=%r>" % (self.status, self.reset, self.headers, self.body[:300])


def h2_request(port, ca, headers, body=None):
    """One request on a fresh HTTP/2 connection; headers is the whole list,
    pseudo-headers included, sent as given (no validation by the client)."""
    pace(dict((k, v) for k, v in headers if isinstance(k, str)).get(":path", ""))
    sock = tls_socket(port, ca, alpn=("h2",))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8", validate_outbound_headers=False,
        normalize_outbound_headers=False, validate_inbound_headers=False))
    try:
        assert sock.selected_alpn_protocol() == "h2"
        conn.initiate_connection()
        conn.max_outbound_frame_size = 16384
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers, end_stream=body is None)
        if body is not None:
            sent = 0
            while True:
                window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                chunk = body[sent:sent + window]
                last = sent + len(chunk) >= len(body)
                conn.send_data(sid, chunk, end_stream=last)
                sent += len(chunk)
                sock.sendall(conn.data_to_send())
                if last:
                    break
                if window == 0:
                    break  # the server stopped granting window: it has answered or refused
        sock.sendall(conn.data_to_send())
        resp_headers, data = None, b""
        deadline = time.monotonic() + IO_TIMEOUT_S
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    resp_headers = dict(ev.headers)
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    data += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    return H2Response(resp_headers, data, False)
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    return H2Response(resp_headers, data, True)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    return H2Response(resp_headers, data, True)
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        return H2Response(resp_headers, data, True)
    finally:
        sock.close()


class H2Upload:
    """What h2_upload saw: the response of the upload stream, how that stream
    was reset (an HTTP/2 error code; None when it was not), how many body
    bytes went out, and the follow-up request on the same connection."""

    def __init__(self, response, reset_code, sent, follow_up):
        self.response = response
        self.reset_code = reset_code
        self.sent = sent
        self.follow_up = follow_up

    def __repr__(self):
        return "<h2 upload sent=%d reset_code=%r response=%r follow_up=%r>" % (
            self.sent, self.reset_code, self.response, self.follow_up)


def h2_upload(port, ca, headers, body, end_stream=True):
    """A request whose body goes out as fast as HTTP/2 flow control lets it
    (reading the server's frames all along, WINDOW_UPDATEs and an early answer
    included), ending the stream with the last byte unless end_stream is
    False (then the client's side stays open, as if more were to come). body
    None: HEADERS without END_STREAM and nothing more, so only the headers
    can be answered.
    Sending stops as soon as the stream is answered or reset; then waits for
    the end of the response and, when the body was not all sent, for a reset
    of the stream; finally asks GET /healthz on a new stream of the same
    connection."""
    pace(dict((k, v) for k, v in headers if isinstance(k, str)).get(":path", ""))
    sock = tls_socket(port, ca, alpn=("h2",))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8", validate_outbound_headers=False,
        normalize_outbound_headers=False, validate_inbound_headers=False))
    streams = {}   # stream id -> {"headers", "data", "ended", "reset"}
    closed = [False]

    def on_events(events):
        for ev in events:
            st = streams.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ConnectionTerminated):
                closed[0] = True
            elif st is None:
                continue
            elif isinstance(ev, h2.events.ResponseReceived):
                st["headers"] = dict(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                st["data"] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                st["ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                st["reset"] = ev.error_code

    def pump(timeout):
        """read what the server sent within timeout (0: only what is there)"""
        if not sock.pending() and not select.select([sock], [], [], timeout)[0]:
            return
        data = sock.recv(65536)
        if not data:
            closed[0] = True
            return
        on_events(conn.receive_data(data))
        out = conn.data_to_send()
        if out:
            sock.sendall(out)

    def wait(until):
        deadline = time.monotonic() + IO_TIMEOUT_S
        while not until() and not closed[0] and time.monotonic() < deadline:
            pump(deadline - time.monotonic())

    def response(st):
        return H2Response(st["headers"], st["data"], st["reset"] is not None and not st["ended"])

    try:
        assert sock.selected_alpn_protocol() == "h2"
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        up = streams[sid] = {"headers": None, "data": b"", "ended": False, "reset": None}
        conn.send_headers(sid, headers, end_stream=False)
        sock.sendall(conn.data_to_send())
        sent = 0
        deadline = time.monotonic() + IO_TIMEOUT_S
        while (body is not None and sent < len(body) and up["headers"] is None and up["reset"] is None
               and not closed[0] and time.monotonic() < deadline):
            n = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, len(body) - sent)
            if n == 0:
                pump(deadline - time.monotonic())
                continue
            conn.send_data(sid, body[sent:sent + n], end_stream=end_stream and sent + n == len(body))
            sent += n
            sock.sendall(conn.data_to_send())
            pump(0)
        wait(lambda: up["ended"] or up["reset"] is not None)
        if up["ended"] and (body is None or sent < len(body) or not end_stream):
            # answered before the body was all sent: the server should now ask the client to stop
            wait(lambda: up["reset"] is not None)
        follow_up = None
        if not closed[0]:
            fid = conn.get_next_available_stream_id()
            follow = streams[fid] = {"headers": None, "data": b"", "ended": False, "reset": None}
            conn.send_headers(fid, [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                                    (":path", "/healthz")], end_stream=True)
            sock.sendall(conn.data_to_send())
            wait(lambda: follow["ended"] or follow["reset"] is not None)
            follow_up = response(follow)
        return H2Upload(response(up), up["reset"], sent, follow_up)
    finally:
        sock.close()


def h2_get(port, ca, path="/healthz", authority="localhost", method="GET", extra=()):
    return h2_request(port, ca, [(":method", method), (":scheme", "https"), (":authority", authority),
                                 (":path", path)] + list(extra))


def assert_security_headers(headers, https=True, landing=False, where=""):
    """headers: lower-case name -> value (or list of values)."""
    def one(name):
        v = headers.get(name)
        if isinstance(v, list):
            assert len(v) == 1, "%s: %s sent %d times: %r" % (where, name, len(v), v)
            v = v[0]
        return v
    for name, want in SECURITY_HEADERS.items():
        got = one(name)
        if name == "content-security-policy" and landing:
            assert got and LANDING_CSP_RE.match(got), "%s: landing CSP %r" % (where, got)
        else:
            assert got == want, "%s: %s is %r, want %r (all: %r)" % (where, name, got, want, headers)
    if https:
        assert one("strict-transport-security") == HSTS, "%s: HSTS %r" % (where, headers)
    else:
        assert "strict-transport-security" not in headers, "%s: HSTS over plain HTTP: %r" % (where, headers)
    assert "server" not in headers, "%s: Server header: %r" % (where, headers)
    assert "x-powered-by" not in headers, "%s: X-Powered-By: %r" % (where, headers)
    assert one("x-request-id"), "%s: no X-Request-ID: %r" % (where, headers)


def assert_error_body(body_json, request_id, detail=None):
    assert set(body_json) == {"detail", "reference"}, body_json
    assert body_json["reference"] == request_id, (body_json, request_id)
    if detail is not None:
        assert body_json["detail"] == detail, body_json


def policy_variant(tmp_dir, replacements):
    """A copy of policy/default.yaml with some lines changed (old -> new)."""
    from conftest import DEFAULT_POLICY
    with open(DEFAULT_POLICY) as f:
        text = f.read()
    for old, new in replacements.items():
        assert old in text, "policy/default.yaml no longer has %r" % old
        text = text.replace(old, new)
    path = os.path.join(str(tmp_dir), "policy.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path
