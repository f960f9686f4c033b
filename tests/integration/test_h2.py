"""A real HTTP/2 exchange with python3-h2 over a verified TLS socket: two
streams in flight at once on one connection."""

import json
import socket
import ssl

import h2.config
import h2.connection
import h2.events
import pytest

from conftest import read_http1_response

pytestmark = pytest.mark.integration


def tls_socket(port, ca, alpn=("h2",), host="localhost"):
    ctx = ssl.create_default_context(cafile=ca)  # verifies chain and host name
    ctx.set_alpn_protocols(list(alpn))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=host)


def exchange(sock, requests, host="localhost"):
    """Send every request before reading anything, then read until each
    stream has ended. Returns {stream_id: (headers, body)} and the events."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding="utf-8"))
    conn.initiate_connection()
    sids = []
    for path, extra in requests:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"),
                                (":authority", host), (":path", path)] + list(extra),
                          end_stream=True)
        sids.append(sid)
    sock.sendall(conn.data_to_send())
    results = {sid: [None, b""] for sid in sids}
    ended, events = set(), []
    while ended != set(sids):
        data = sock.recv(65536)
        assert data, "connection closed with streams %s still open" % (set(sids) - ended)
        for ev in conn.receive_data(data):
            events.append(ev)
            if isinstance(ev, h2.events.ResponseReceived):
                results[ev.stream_id][0] = dict(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                results[ev.stream_id][1] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                ended.add(ev.stream_id)
            elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                pytest.fail("server ended the exchange: %r" % ev)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    return [tuple(results[s]) for s in sids], events


def test_two_concurrent_streams(server, demo):
    sock = tls_socket(server.port, demo.ca)
    try:
        assert sock.selected_alpn_protocol() == "h2"
        (h1, b1), (h2_, b2) = exchange(sock, [("/healthz", []),
                                              ("/nope", [("x-request-id", "h2-stream-3")])])[0]
    finally:
        sock.close()
    assert h1[":status"] == "200", h1
    assert json.loads(b1) == {"status": "ok"}
    assert h1.get("content-type", "").split(";")[0] == "application/json", h1
    assert h2_[":status"] == "404", h2_
    assert json.loads(b2) == {"detail": "Not Found", "reference": "h2-stream-3"}
    assert h2_.get("x-request-id") == "h2-stream-3", h2_
    for h in (h1, h2_):
        assert "server" not in h, h
    rec = server.request_record("h2-stream-3")
    assert rec["protocol"] == "HTTP/2" and rec["status"] == 404, rec


def test_many_streams_on_one_connection(server, demo):
    sock = tls_socket(server.port, demo.ca)
    try:
        reqs = [("/healthz" if i % 2 else "/missing/%d" % i, [("x-request-id", "many-%d" % i)])
                for i in range(20)]
        results, _ = exchange(sock, reqs)
    finally:
        sock.close()
    for i, (h, b) in enumerate(results):
        if i % 2:
            assert h[":status"] == "200" and json.loads(b) == {"status": "ok"}, (i, h, b)
        else:
            assert h[":status"] == "404", (i, h, b)
            assert json.loads(b)["reference"] == "many-%d" % i, (i, b)


def test_h2_not_offered_means_http11(server, demo):
    sock = tls_socket(server.port, demo.ca, alpn=("http/1.1",))
    try:
        assert sock.selected_alpn_protocol() == "http/1.1"
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        got, data = read_http1_response(sock)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 200"), data
    assert got is not None, "incomplete response: %r" % data
    assert json.loads(got[2]) == {"status": "ok"}, data


HPACK_RESPONSES = 60
# every field but the request id and Date is in the dynamic table by then;
# the request id (~30 bytes coded) and a new Date (~25) are literals
HPACK_INDEXED_MAX = 100


def test_repeated_responses_stay_indexed(server, demo):
    # h2o patch 0024: X-Request-ID differs on every response and must not
    # crowd the stable security headers out of the HPACK dynamic table (then
    # re-sent in full every twenty-odd responses).  Sequential requests on
    # one connection; the size of each response's HEADERS frame is read off
    # the wire, the fields through python3-h2's decoder.
    sock = tls_socket(server.port, demo.ca)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    raw, sizes, fields = b"", [], []
    try:
        for i in range(HPACK_RESPONSES):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                                    (":path", "/healthz")], end_stream=True)
            sock.sendall(conn.data_to_send())
            ended = False
            while not ended:
                data = sock.recv(65536)
                assert data, "connection closed at response %d" % i
                raw += data
                while len(raw) >= 9 and len(raw) >= 9 + int.from_bytes(raw[:3], "big"):
                    length = int.from_bytes(raw[:3], "big")
                    if raw[3] == 0x1 and int.from_bytes(raw[5:9], "big") & 0x7fffffff == sid:  # HEADERS
                        sizes.append(length)
                    raw = raw[9 + length:]
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.ResponseReceived):
                        fields.append(dict(ev.headers))
                    elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                        ended = True
                    elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                        pytest.fail("server ended the exchange: %r" % ev)
                out = conn.data_to_send()
                if out:
                    sock.sendall(out)
    finally:
        sock.close()
    assert len(sizes) == len(fields) == HPACK_RESPONSES
    stable = {k: v for k, v in fields[0].items() if k not in ("date", "x-request-id")}
    assert "content-security-policy" in stable and "strict-transport-security" in stable, fields[0]
    for i, f in enumerate(fields):
        assert {k: v for k, v in f.items() if k not in ("date", "x-request-id")} == stable, (i, f)
    assert len({f["x-request-id"] for f in fields}) == HPACK_RESPONSES
    assert sizes[0] > 3 * HPACK_INDEXED_MAX, "the first response should carry every field in full: %d" % sizes[0]
    assert max(sizes[1:]) <= HPACK_INDEXED_MAX, "HEADERS frame sizes: %s" % sizes
