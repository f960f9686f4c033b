"""HTTP/2 header blocks: CONTINUATION floods (VU#421644), HPACK
amplification, and the header-field rules of RFC 9113 8.2 (the same
strictness as HTTP/1.1, DEFAULT-POLICY.md "Input limits"). Patches:
deps/patches/h2o/0008 (CONTINUATION), 0009 (HPACK), 0011 (field rules)."""

import struct
import time

import pytest

from attacklib import (CONTINUATION, END_HEADERS, ERR_ENHANCE_YOUR_CALM, ERR_PROTOCOL, HEADERS, Bystander, flood, frame,
                       h2_connect, headers_frame, hpack_encoder, request_block, response_status, server_rss_kib,
                       server_cpu_s)

pytestmark = pytest.mark.integration


def test_continuation_flood_empty(server, demo):
    """HEADERS without END_HEADERS, then empty CONTINUATION frames forever:
    stock h2o takes every one of them."""
    sock, reader = h2_connect(server.port, demo.ca)
    enc = hpack_encoder()
    try:
        with Bystander(server.port, demo.ca) as bystander:
            sock.sendall(frame(HEADERS, 0x1, 1, request_block(enc)))  # END_STREAM, no END_HEADERS
            code, sent = flood(sock, reader, (frame(CONTINUATION, 0, 1) for _ in range(5000)), batch=10)
        bystander.check()
    finally:
        sock.close()
    assert code == ERR_ENHANCE_YOUR_CALM, "no GOAWAY(ENHANCE_YOUR_CALM) after %d empty CONTINUATIONs (%r)" % (sent, code)
    assert sent <= 200, sent
    print("empty CONTINUATION flood: GOAWAY after %d frames" % sent)


def test_continuation_flood_large(server, demo):
    """A header block that never ends, in full 16 KiB CONTINUATION frames:
    the server must stop buffering it at the header limit (16 KiB + slack),
    not at stock h2o's ~408 KiB, and say ENHANCE_YOUR_CALM."""
    sock, reader = h2_connect(server.port, demo.ca)
    enc = hpack_encoder()
    filler = b"\x00" * 16384
    try:
        sock.sendall(frame(HEADERS, 0x1, 1, request_block(enc)))
        code, sent = flood(sock, reader, (frame(CONTINUATION, 0, 1, filler) for _ in range(64)), batch=1, drain_s=0.02)
    finally:
        sock.close()
    assert code == ERR_ENHANCE_YOUR_CALM, "GOAWAY code %r after %d KiB of header block" % (code, sent * 16)
    assert sent * 16 <= 64, "the server buffered %d KiB of one header block" % (sent * 16)
    print("large CONTINUATION flood: GOAWAY after %d KiB" % (sent * 16))


def bomb_block(entry_size=4000, refs=12000):
    """Pseudo-headers, one literal field added to the dynamic table
    (entry_size bytes), then `refs` one-byte references to it (index 62):
    a ~16 KiB block that decodes to entry_size * refs bytes."""
    enc = hpack_encoder()
    block = request_block(enc)
    name, value = b"x-bomb", b"a" * entry_size
    literal = b"\x40" + bytes([len(name)]) + name
    n = len(value) - 127  # 7-bit prefix integer
    lit_len = b"\x7f"
    while n >= 128:
        lit_len += bytes([0x80 | (n & 0x7f)])
        n >>= 7
    lit_len += bytes([n])
    literal += lit_len + value
    return block + literal + b"\xbe" * refs


@pytest.mark.native_only("measures the server process's memory and CPU time")
def test_hpack_bomb(server, demo):
    """100 streams, each a 16 KiB block decoding to 48 MB, on a connection
    that gives the server no flow-control window (so no response can finish
    and every stream keeps what it decoded). Stock h2o links each one-byte
    reference into the request's pool: ~150 MiB of server memory from 1.6 MB
    of input. Bounded, the server keeps at most 16 KiB of fields a stream."""
    block = bomb_block()
    assert len(block) <= 16384
    rss0, cpu0 = server_rss_kib(server.proc), server_cpu_s(server.proc)
    sock, reader = h2_connect(server.port, demo.ca, settings=[(4, 0)])  # SETTINGS_INITIAL_WINDOW_SIZE = 0
    try:
        with Bystander(server.port, demo.ca) as bystander:
            sock.sendall(b"".join(headers_frame(sid, bomb_block()) for sid in range(1, 200, 2)))
            status = response_status(reader, 1, timeout=10)
            time.sleep(1)
            grown = server_rss_kib(server.proc) - rss0
            cpu = server_cpu_s(server.proc) - cpu0
        bystander.check()
    finally:
        sock.close()
    print("HPACK bomb: 100 x %d-byte blocks (48 MB decoded each): first status %r, server RSS %+d KiB, CPU %.2f s"
          % (len(block), status, grown, cpu))
    assert status == "431", "an HPACK bomb was answered %r" % status
    assert grown < 32 * 1024, "the server grew by %d KiB holding 100 HPACK-bombed streams" % grown


# stock_ok: stock h2o decodes every field of the bomb (the table stays in step)
# and the 431 comes from our middleware's header limit (app/mw/input_limits.c)
@pytest.mark.stock_ok
def test_hpack_bomb_keeps_connection_in_step(server, demo):
    """After a 431 for a bombed block, the same connection still decodes the
    client's next block correctly (the dynamic table stayed in step)."""
    sock, reader = h2_connect(server.port, demo.ca)
    try:
        sock.sendall(headers_frame(1, bomb_block()))
        assert response_status(reader, 1) == "431"
        # GET https /healthz, :authority localhost, none added to the table;
        # then index 62: still the bomb's 4000-byte x-bomb entry
        block = b"\x82\x87" + b"\x04\x08/healthz" + b"\x01\x09localhost" + b"\xbe"
        sock.sendall(headers_frame(3, block))
        assert response_status(reader, 3) == "200"
    finally:
        sock.close()


# stock_ok: on stock h2o the 431 comes from our middleware (app/mw/input_limits.c)
@pytest.mark.stock_ok
def test_header_list_limit(server, demo):
    sock, reader = h2_connect(server.port, demo.ca)
    enc = hpack_encoder()
    try:
        ok = [("x-f%d" % i, "v" * 1000) for i in range(12)]
        sock.sendall(headers_frame(1, request_block(enc, extra=ok)))
        assert response_status(reader, 1) == "200"
        big = [("x-g%d" % i, "w" * 1000) for i in range(18)]
        block = request_block(enc, extra=big)
        sock.sendall(frame(HEADERS, 0x1, 3, block[:10000]) + frame(CONTINUATION, END_HEADERS, 3, block[10000:]))
        assert response_status(reader, 3) == "431"
    finally:
        sock.close()


# RFC 9113 8.2: each request is malformed; a well-formed twin must get 200.
MALFORMED_FIELDS = {
    "uppercase_name": [("X-Upper", "a")],
    "connection": [("connection", "keep-alive")],
    "keep_alive": [("keep-alive", "timeout=5")],
    "proxy_connection": [("proxy-connection", "keep-alive")],
    "transfer_encoding": [("transfer-encoding", "chunked")],
    "upgrade": [("upgrade", "h2c")],
    "te_gzip": [("te", "gzip")],
    "te_trailers_gzip": [("te", "trailers, gzip")],
    "nul_in_value": [("x-a", "a\x00b")],
    "cr_in_value": [("x-a", "a\rb")],
    "lf_in_value": [("x-a", "a\nb")],
    "space_in_name": [("x a", "b")],
    "colon_in_name": [("x:a", "b")],
    "leading_space_in_value": [("x-a", " b")],
    "trailing_tab_in_value": [("x-a", "b\t")],
}
# hand-encoded fields (the hpack encoder would Huffman-code an empty name,
# which h2o already refuses as a COMPRESSION_ERROR): literal without
# indexing, new name, raw strings
MALFORMED_RAW = {
    "empty_name": b"\x00\x00\x01b",
    "empty_name_empty_value": b"\x00\x00\x00",
}
MALFORMED_PSEUDO = {
    "empty_path": dict(path=""),
    "relative_path": dict(path="healthz"),
    "space_in_method": dict(method="GE T"),
    "empty_method": dict(method=""),
}
REFUSED = ("400", "RST:%d" % ERR_PROTOCOL, "GOAWAY:%d" % ERR_PROTOCOL)
# Refused by stock h2o 2.2.5 too (tests/attack/unpatched.sh checks that they
# pass on the unpatched build): its HPACK decoder already refuses upper-case
# and non-token names and CR, LF, NUL in values, answers Connection, TE other
# than "trailers", Transfer-Encoding and Upgrade with GOAWAY(PROTOCOL_ERROR),
# and a :path that does not start with "/" with a stream error.
STOCK_OK_FIELDS = {"colon_in_name", "connection", "cr_in_value", "lf_in_value", "nul_in_value", "space_in_name", "te_gzip",
                   "te_trailers_gzip", "transfer_encoding", "upgrade", "uppercase_name"}
STOCK_OK_PSEUDO = {"relative_path"}


def cases(names, stock_ok):
    """parametrize values: the names in stock_ok carry the stock_ok marker"""
    return [pytest.param(n, marks=pytest.mark.stock_ok) if n in stock_ok else n for n in sorted(names)]


def send_one(server, demo, extra=(), raw=b"", **kw):
    sock, reader = h2_connect(server.port, demo.ca)
    enc = hpack_encoder()
    try:
        sock.sendall(headers_frame(1, request_block(enc, extra=extra, **kw) + raw))
        return response_status(reader, 1)
    finally:
        sock.close()


# stock_ok: the control of the cases below, well formed on any build
@pytest.mark.stock_ok
def test_well_formed_twin(server, demo):
    assert send_one(server, demo, [("te", "trailers"), ("x-a", "b c"), ("x-b", "\x80\xff")]) == "200"


@pytest.mark.parametrize("name", cases(MALFORMED_FIELDS, STOCK_OK_FIELDS))
def test_malformed_field_refused(server, demo, name):
    status = send_one(server, demo, MALFORMED_FIELDS[name])
    assert status in REFUSED, "RFC 9113 8.2: %s was answered %r" % (name, status)


@pytest.mark.parametrize("name", cases(MALFORMED_PSEUDO, STOCK_OK_PSEUDO))
def test_malformed_pseudo_header_refused(server, demo, name):
    status = send_one(server, demo, **MALFORMED_PSEUDO[name])
    assert status in REFUSED, "RFC 9113 8.3.1: %s was answered %r" % (name, status)


@pytest.mark.parametrize("name", sorted(MALFORMED_RAW))
def test_malformed_raw_field_refused(server, demo, name):
    status = send_one(server, demo, raw=MALFORMED_RAW[name])
    assert status in REFUSED, "RFC 9113 8.2: %s was answered %r" % (name, status)


def test_malformed_request_is_a_stream_error(server, demo):
    """RFC 9113 8.1.1: a malformed request fails its stream, not the
    connection's other streams (stock h2o sent GOAWAY for connection-specific
    fields)."""
    sock, reader = h2_connect(server.port, demo.ca)
    enc = hpack_encoder()
    try:
        sock.sendall(headers_frame(1, request_block(enc, extra=[("connection", "keep-alive")])))
        assert response_status(reader, 1) in ("400", "RST:%d" % ERR_PROTOCOL)
        sock.sendall(headers_frame(3, request_block(enc)))
        assert response_status(reader, 3) == "200"
    finally:
        sock.close()
