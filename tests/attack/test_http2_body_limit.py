"""HTTP/2 request bodies over the limit (DEFAULT-POLICY.md "Input limits",
patch 0014), frame by frame: the 413 comes before the stream is reset, the
reset is RST_STREAM(NO_ERROR) after the response's END_STREAM, and DATA the
client still had in flight is ignored rather than answered with one
RST_STREAM per frame (which would spend the connection's reset budget of
0007 and end it with ENHANCE_YOUR_CALM, taking its other streams along)."""

import struct

import pytest

from attacklib import (DATA, END_HEADERS, END_STREAM, ERR_NO_ERROR, GOAWAY, HEADERS, RST_STREAM, WINDOW_UPDATE, frame,
                       h2_connect, headers_frame, hpack_encoder, request_block, response_status, send_quietly)

pytestmark = pytest.mark.integration

ONE_MIB = 1024 * 1024
FRAME = 16384
# more DATA frames after the reset than the reset budget's burst (0007: 100)
IN_FLIGHT_FRAMES = 150


def upload_headers(enc, sid):
    block = request_block(enc, "/api/auth/login", method="POST", extra=[("content-type", "application/json")])
    return headers_frame(sid, block, end_stream=False)


def send_body(sock, reader, sid, frames):
    """DATA frames on sid, within flow control: the connection window starts
    at 65535 octets, and h2o opens it wide on the first DATA frame it reads."""
    sock.sendall(frames[0])
    while True:
        f = reader.next_frame()
        assert f is not None, "no WINDOW_UPDATE after the first DATA frame"
        if f[0] == WINDOW_UPDATE and f[2] == 0:
            break
    sock.sendall(b"".join(frames[1:]))


def read_answer(reader, sid):
    """The frames of stream sid up to its RST_STREAM (or until nothing more
    comes): a list of (type, flags, payload), GOAWAY frames included."""
    seen = []
    while True:
        f = reader.next_frame()
        if f is None:
            return seen
        ftype, flags, fsid, payload = f
        if ftype == HEADERS:
            fields = dict(reader.decode_headers(flags, payload))
            if fsid == sid:
                seen.append((HEADERS, flags, fields))
        elif fsid == sid and ftype in (DATA, RST_STREAM):
            seen.append((ftype, flags, payload))
            if ftype == RST_STREAM:
                return seen
        elif ftype == GOAWAY:
            seen.append((GOAWAY, flags, payload))
            return seen


def test_413_then_no_error_reset_then_in_flight_data_ignored(server, demo):
    enc = hpack_encoder()
    sock, reader = h2_connect(server.port, demo.ca)
    try:
        sock.sendall(upload_headers(enc, 1))
        send_body(sock, reader, 1, [frame(DATA, 0, 1, b" " * FRAME) for _ in range(ONE_MIB // FRAME + 1)])
        seen = read_answer(reader, 1)
        kinds = [k for k, _, _ in seen]
        assert kinds and kinds[0] == HEADERS and seen[0][2].get(":status") == "413", seen
        assert kinds[-1] == RST_STREAM, "no RST_STREAM after the 413: %r" % seen
        assert struct.unpack(">I", seen[-1][2])[0] == ERR_NO_ERROR, seen
        ended = [i for i, (k, flags, _) in enumerate(seen) if k == DATA and flags & END_STREAM]
        assert ended and ended[0] < len(seen) - 1, "the reset came before the response's END_STREAM: %r" % seen

        # what a client had queued when the reset reached it, then another request
        assert send_quietly(sock, b"".join(frame(DATA, 0, 1, b"x" * 100) for _ in range(IN_FLIGHT_FRAMES)))
        assert send_quietly(sock, headers_frame(3, request_block(enc)))
        assert response_status(reader, 3) == "200"
    finally:
        sock.close()


def test_declared_length_over_the_limit_answered_on_the_headers(server, demo):
    enc = hpack_encoder()
    sock, reader = h2_connect(server.port, demo.ca)
    try:
        block = request_block(enc, "/api/auth/login", method="POST",
                              extra=[("content-type", "application/json"), ("content-length", str(ONE_MIB + 1))])
        sock.sendall(frame(HEADERS, END_HEADERS, 1, block))
        seen = read_answer(reader, 1)
        assert seen and seen[0][0] == HEADERS and seen[0][2].get(":status") == "413", seen
        assert seen[-1][0] == RST_STREAM and struct.unpack(">I", seen[-1][2])[0] == ERR_NO_ERROR, seen
        assert send_quietly(sock, headers_frame(3, request_block(enc)))
        assert response_status(reader, 3) == "200"
    finally:
        sock.close()
