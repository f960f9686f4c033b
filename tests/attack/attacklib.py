"""Shared pieces of the attack tests: TLS connections to the server fixture,
raw HTTP/1.1 exchanges, raw HTTP/2 frames, and a bystander that checks the
server keeps serving other clients while an attack runs.

Everything talks to 127.0.0.1 only and every socket operation has a timeout:
an attack that hangs the server is a failed test, never a hung suite."""

import os
import socket
import ssl
import struct
import threading
import time


# How long a single socket read may block before the test calls it a hang.
IO_TIMEOUT_S = 5
# A /healthz from another client while an attack runs must answer within this.
BYSTANDER_MAX_LATENCY_S = 2.0


def tls_connect(port, ca, alpn=("http/1.1",), timeout=IO_TIMEOUT_S):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(list(alpn))
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    except Exception:
        raw.close()
        raise
    s.settimeout(timeout)
    return s


# --- HTTP/1.1 ---------------------------------------------------------------

def response_complete(data):
    """Whether data holds one whole HTTP/1.1 response (Content-Length or
    chunked; the error responses under test always have one of them)."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        fields[k.strip().lower()] = v.strip().lower()
    if b"chunked" in fields.get(b"transfer-encoding", b""):
        return rest.endswith(b"0\r\n\r\n")
    if b"content-length" in fields:
        return len(rest) >= int(fields[b"content-length"])
    return False


class H1Result:
    def __init__(self, status, closed, data):
        self.status = status    # int, 0 when no (parsable) response came
        self.closed = closed    # the server closed the connection after answering
        self.data = data

    def __repr__(self):
        return "<status=%d closed=%s %r>" % (self.status, self.closed, self.data[:200])


def h1_exchange(port, ca, raw, timeout=IO_TIMEOUT_S, close_wait=1.0):
    """Send raw bytes on a fresh TLS connection; read one response, then wait
    (at most `close_wait` more) to see whether the server closes the connection."""
    s = tls_connect(port, ca, timeout=timeout)
    data, closed = b"", False
    try:
        try:
            s.sendall(raw)
        except (ssl.SSLError, OSError):
            pass  # the server may answer and close before taking it all
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except (ssl.SSLError, ConnectionError, OSError):
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
            if response_complete(data):
                # a complete response: now does the connection close?
                deadline = min(deadline, time.monotonic() + close_wait)
                s.settimeout(max(0.05, deadline - time.monotonic()))
        status = 0
        if data.startswith(b"HTTP/1."):
            try:
                status = int(data.split(b" ", 2)[1])
            except ValueError:
                pass
        return H1Result(status, closed, data)
    finally:
        s.close()


def h1_request(method, path, headers=(), body=b"", version="HTTP/1.1", host="localhost"):
    lines = ["%s %s %s" % (method, path, version), "Host: %s" % host]
    lines += ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --- the bystander ------------------------------------------------------------

def healthz_latency(port, ca, timeout=IO_TIMEOUT_S):
    """Seconds for one GET /healthz on a new connection (TLS handshake
    included); None when it was not answered 200 within the timeout."""
    t0 = time.monotonic()
    try:
        r = h1_exchange(port, ca, h1_request("GET", "/healthz", [("Connection", "close")]), timeout=timeout)
    except (OSError, ssl.SSLError):
        return None
    if r.status != 200:
        return None
    return time.monotonic() - t0


class Bystander:
    """Another client asking /healthz every `interval` seconds while an
    attack runs; records each latency (None for a failure)."""

    def __init__(self, port, ca, interval=0.2):
        self.port, self.ca, self.interval = port, ca, interval
        self.latencies = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.latencies.append(healthz_latency(self.port, self.ca))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(IO_TIMEOUT_S + 1)

    def check(self, max_latency=BYSTANDER_MAX_LATENCY_S):
        assert self.latencies, "the bystander made no request"
        bad = [l for l in self.latencies if l is None or l > max_latency]
        assert not bad, "another client was not served within %.1f s during the attack: %r" % (
            max_latency, self.latencies)


# --- HTTP/2 raw frames ----------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

ERR_NO_ERROR, ERR_PROTOCOL, ERR_INTERNAL, ERR_FLOW_CONTROL = 0, 1, 2, 3
ERR_REFUSED_STREAM, ERR_CANCEL, ERR_COMPRESSION, ERR_ENHANCE_YOUR_CALM = 7, 8, 9, 11


def frame(ftype, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, stream_id & 0x7fffffff) + payload


def settings_frame(pairs=(), ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def rst_stream(stream_id, code=ERR_CANCEL):
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))


def window_update(stream_id, increment):
    return frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))


def ping(data=b"\0" * 8, ack=False):
    return frame(PING, ACK if ack else 0, 0, data)


def priority(stream_id, depends_on=0, weight=15):
    return frame(PRIORITY, 0, stream_id, struct.pack(">IB", depends_on, weight))


def hpack_encoder():
    import hpack
    return hpack.Encoder()


def request_block(encoder, path="/healthz", extra=(), method="GET", authority="localhost"):
    """An HPACK header block for a GET with the given extra fields (names and
    values as given: the encoder does not lower-case or validate)."""
    fields = [(":method", method), (":scheme", "https"), (":authority", authority), (":path", path)]
    return encoder.encode(fields + list(extra))


class H2Reader:
    """Reads frames from a TLS socket and answers nothing on its own, so that
    tests control exactly what the server receives."""

    def __init__(self, sock):
        import hpack
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 20

    def decode_headers(self, flags, payload):
        """Decode a server HEADERS frame (no CONTINUATION: responses here are small)."""
        if flags & PADDED:
            payload = payload[1:len(payload) - payload[0]]
        if flags & PRIORITY_FLAG:
            payload = payload[5:]
        return self.decoder.decode(payload, raw=False)

    def _fill(self, deadline):
        if self.eof:
            return False
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ssl.SSLError, ConnectionError, OSError):
            self.eof = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def next_frame(self, timeout=IO_TIMEOUT_S):
        """(type, flags, stream_id, payload), or None on timeout or EOF."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 9:
                length = struct.unpack(">I", b"\0" + self.buf[:3])[0]
                if len(self.buf) >= 9 + length:
                    ftype, flags, sid = struct.unpack(">BBI", self.buf[3:9])
                    payload = self.buf[9:9 + length]
                    self.buf = self.buf[9 + length:]
                    return ftype, flags, sid & 0x7fffffff, payload
            if time.monotonic() >= deadline or not self._fill(deadline):
                return None

    def until_goaway(self, timeout=IO_TIMEOUT_S):
        """Read frames until GOAWAY (returns its error code), EOF or timeout
        (returns None). Also returns the frames seen before."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            f = self.next_frame(max(0.01, deadline - time.monotonic()))
            if f is None:
                if self.eof:
                    break
                continue
            seen.append(f)
            if f[0] == HEADERS:
                self.decode_headers(f[1], f[3])  # keeps the HPACK state in step
            if f[0] == GOAWAY:
                return struct.unpack(">I", f[3][4:8])[0], seen
        return None, seen


def flood(sock, reader, frames, batch=20, drain_s=0.005, tail_s=3.0):
    """Send frames (an iterable of bytes) in batches, reading what the server
    answers between batches, until GOAWAY or the end. Returns (goaway error
    code or None, number of frames the server took before it)."""
    sent = 0
    pending = []
    frames = iter(frames)
    while True:
        pending = [f for _, f in zip(range(batch), frames)]
        if not pending:
            break
        if not send_quietly(sock, b"".join(pending)):
            break
        sent += len(pending)
        code, _ = reader.until_goaway(timeout=drain_s)
        if code is not None:
            return code, sent
        if reader.eof:
            return None, sent
    code, _ = reader.until_goaway(timeout=tail_s)
    return code, sent


def headers_frame(stream_id, block, end_stream=True, end_headers=True):
    flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
    return frame(HEADERS, flags, stream_id, block)


def response_status(reader, stream_id, timeout=IO_TIMEOUT_S):
    """The :status of stream_id's response ('RST:<code>' for a reset,
    'GOAWAY:<code>' when the connection ended first, None on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        f = reader.next_frame(max(0.01, deadline - time.monotonic()))
        if f is None:
            if reader.eof:
                return "EOF"
            continue
        ftype, flags, sid, payload = f
        if ftype == HEADERS:
            fields = dict(reader.decode_headers(flags, payload))
            if sid == stream_id:
                return fields.get(":status")
        elif ftype == RST_STREAM and sid == stream_id:
            return "RST:%d" % struct.unpack(">I", payload)[0]
        elif ftype == GOAWAY:
            return "GOAWAY:%d" % struct.unpack(">I", payload[4:8])[0]
    return None


def h2_connect(port, ca, timeout=IO_TIMEOUT_S, settings=()):
    """A TLS connection with ALPN h2, the preface and SETTINGS (empty unless
    given) sent, and the server's SETTINGS acknowledged."""
    s = tls_connect(port, ca, alpn=("h2",), timeout=timeout)
    assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
    s.sendall(PREFACE + settings_frame(settings))
    r = H2Reader(s)
    f = r.next_frame(timeout)
    assert f is not None and f[0] == SETTINGS and not f[1] & ACK, "no SETTINGS from the server: %r" % (f,)
    s.sendall(settings_frame(ack=True))
    return s, r


def send_quietly(sock, data):
    """sendall that reports whether the server still took the bytes: a server
    that closed the connection makes it fail, which is the point."""
    try:
        sock.sendall(data)
        return True
    except (ssl.SSLError, ConnectionError, OSError, socket.timeout):
        return False


def server_rss_kib(proc):
    """Resident set of the server process (KiB), from /proc."""
    try:
        with open("/proc/%d/status" % proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_cpu_s(proc):
    """User+system CPU seconds the server process has used so far."""
    try:
        with open("/proc/%d/stat" % proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick
    except (OSError, IndexError, ValueError):
        return 0.0
