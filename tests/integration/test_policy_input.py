"""DEFAULT-POLICY.md, "Input limits": 413 for a body over the limit, 415
for a non-JSON content type on a JSON route, 422 with a generic detail for
malformed JSON or wrong fields, 414 for a request line over 8 KiB, 431 for
headers over 16 KiB, and a client that sends its headers too slowly is cut
off (tested with header_timeout: 1s in a copy of the default policy)."""

import json

import pytest

from conftest import Server, curl, dribble_until_closed
from policy_helpers import (next_source, assert_error_body, assert_security_headers, h1_raw, h1_request, h2_request,
                            h2_upload, policy_variant, tls_socket)

pytestmark = pytest.mark.integration

PROTOS = ["--http1.1", "--http2"]
LOGIN = "/api/auth/login"
RESET = "/api/auth/password-reset"
ITEMS = "/api/items"
# the input layer has let a request through when it answers none of these
INPUT_STATUSES = (413, 414, 415, 422, 431)


def post(server, demo, proto, path, body, ctype="application/json", extra=()):
    args = [proto, "-X", "POST", "--data-binary", body if isinstance(body, str) else "@" + body]
    args += ["-H", "Content-Type: " + ctype] if ctype is not None else ["-H", "Content-Type:"]
    return curl(server.url(path), *(args + ["--interface", next_source()] + list(extra)), ca=demo.ca)


# -- 415 ------------------------------------------------------------------------

@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                   "application/jsonx", "application/json-patch+json", "text/json", "json", None])
def test_non_json_content_type_is_415(server, demo, proto, ctype):
    r = post(server, demo, proto, LOGIN, '{"username":"a","password":"b"}', ctype)
    assert r.status == 415, r
    assert_error_body(r.json(), r.header("x-request-id"), "Unsupported media type")
    assert_security_headers(r.headers, where="415")


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8", "Application/JSON",
                                   "application/json ;charset=UTF-8"])
def test_json_content_types_pass(server, demo, ctype):
    r = post(server, demo, "--http1.1", LOGIN, '{"username":"a","password":"b"}', ctype)
    assert r.status not in INPUT_STATUSES, r


def test_two_content_types_are_415(server, demo):
    body = b'{"username":"a","password":"b"}'
    raw = h1_request("POST", LOGIN, [("Content-Type", "application/json"), ("Content-Type", "text/plain")], body)
    r = h1_raw(server.port, demo.ca, raw)
    assert r.status == 415, r


# -- 422 ------------------------------------------------------------------------

BAD_BODIES = {
    LOGIN: ['', '{', 'null', '[]', '"x"', '{"username":"a"}', '{"password":"b"}',
            '{"username":"a","password":"b","admin":true}', '{"username":1,"password":"b"}',
            '{"username":"a","password":null}', '{"username":"a","password":"b","username":"c"}',
            '{"username":"%s","password":"b"}' % ("u" * 257), "{'username':'a','password':'b'}",
            '{"username":"a","password":"b"} x', '{"username":"a\\u0000","password":"b"}'],
    RESET: ['{}', '{"email":"no-at-sign"}', '{"email":"@example.com"}', '{"email":"a@"}', '{"email":"a@b@c"}',
            '{"email":"%s@example.com"}' % ("a" * 250), '{"email":["a@b"]}', '{"email":"a@b","name":"x"}'],
    ITEMS: ['{}', '{"name":""}', '{"name":"%s"}' % ("n" * 101), '{"name":5}', '{"name":"ok","owner":"bob"}'],
}
GOOD_BODIES = {
    LOGIN: ['{"username":"alice","password":"x"}', '{"password":"","username":""}',
            '{"username":"%s","password":"%s"}' % ("u" * 256, "p" * 256)],
    RESET: ['{"email":"alice@bulwark.test"}'],
    ITEMS: ['{"name":"n"}', '{"name":"%s"}' % ("n" * 100), '{"name":"%s"}' % ("\u00e9" * 100)],
}


def body_cases(table):
    """(path, body) params; password reset's are native-only (3 per hour
    per address: the booted image sees one address for all clients)."""
    reset_only_native = pytest.mark.native_only("password reset: 3 per hour per address")
    return [pytest.param(p, b, marks=[reset_only_native] if p == RESET else [])
            for p, bodies in table.items() for b in bodies]


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("path,body", body_cases(BAD_BODIES))
def test_bad_json_is_422_with_a_generic_detail(server, demo, proto, path, body):
    r = post(server, demo, proto, path, body)
    assert r.status == 422, r
    got = r.json()
    assert_error_body(got, r.header("x-request-id"), "Invalid request body")


@pytest.mark.parametrize("path,body", body_cases(GOOD_BODIES))
def test_valid_json_passes_the_input_layer(server, demo, path, body):
    r = post(server, demo, "--http2", path, body)
    assert r.status not in INPUT_STATUSES, r


# -- 413 ------------------------------------------------------------------------

ONE_MIB = 1024 * 1024


def test_declared_body_over_1mib_is_413_http1(server, demo):
    raw = h1_request("POST", LOGIN, [("Content-Type", "application/json"), ("Content-Length", str(ONE_MIB + 1))])
    r = h1_raw(server.port, demo.ca, raw, close_wait=2)
    assert r.status == 413, r
    assert_error_body(r.json(), r.header("x-request-id"), "Request body too large")
    assert r.closed, r


def test_chunked_body_over_1mib_is_413_http1(server, demo, tmp_path):
    f = tmp_path / "big.json"
    f.write_bytes(b" " * (ONE_MIB + 10))
    r = curl(server.url(LOGIN), "--http1.1", "-X", "POST", "-H", "Content-Type: application/json",
             "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + str(f), ca=demo.ca)
    assert r.status == 413, r
    assert_error_body(r.json(), r.header("x-request-id"), "Request body too large")


def test_body_at_the_limit_is_not_413(server, demo, tmp_path):
    f = tmp_path / "limit.json"
    f.write_bytes(b'{"name":"x"}' + b" " * (ONE_MIB - 12))
    r = curl(server.url(ITEMS), "--http1.1", "-X", "POST", "-H", "Content-Type: application/json",
             "--data-binary", "@" + str(f), ca=demo.ca)
    assert r.status not in INPUT_STATUSES, r


# Over HTTP/2 as over HTTP/1.1 (patch 0014): a 413 the client can read, not a
# stream reset; then the stream is reset with NO_ERROR (RFC 9113 8.1: "stop
# sending, the answer is complete") and the connection serves on.

def h2_post_headers(path, extra=()):
    return [(":method", "POST"), (":scheme", "https"), (":authority", "localhost"), (":path", path),
            ("content-type", "application/json")] + list(extra)


def assert_h2_413(server, up):
    r = up.response
    assert not r.reset and r.status == 413, up
    assert_security_headers(r.headers, where="h2 413")
    rid = r.header("x-request-id")
    assert_error_body(r.json(), rid, "Request body too large")
    assert up.reset_code == 0, "the stream was not ended with RST_STREAM(NO_ERROR): %r" % up
    assert up.follow_up is not None and up.follow_up.status == 200, "the connection did not serve on: %r" % up
    rec = server.request_record(rid)
    assert rec["status"] == 413 and rec["detail"] == "Request body too large" and rec["protocol"] == "HTTP/2", rec


def test_declared_body_over_1mib_is_413_http2(server, demo):
    # HEADERS only: the answer must come before any of the body is sent
    up = h2_upload(server.port, demo.ca, h2_post_headers(LOGIN, [("content-length", str(ONE_MIB + 1))]), None)
    assert up.sent == 0
    assert_h2_413(server, up)


def test_streamed_body_over_1mib_is_413_http2(server, demo):
    # no content-length: refused once the DATA passes the limit, though the
    # client has not ended the stream (it may go on sending for ever)
    up = h2_upload(server.port, demo.ca, h2_post_headers(LOGIN), b" " * (ONE_MIB + 1000), end_stream=False)
    assert_h2_413(server, up)


def test_streamed_body_over_1mib_sent_whole_is_413_http2(server, demo):
    # the whole body may be on its way before the answer comes: still a 413,
    # and the connection serves on (no reset is owed when the client ended)
    up = h2_upload(server.port, demo.ca, h2_post_headers(LOGIN), b" " * (3 * ONE_MIB))
    r = up.response
    assert not r.reset and r.status == 413, up
    assert_error_body(r.json(), r.header("x-request-id"), "Request body too large")
    assert up.follow_up is not None and up.follow_up.status == 200, "the connection did not serve on: %r" % up


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_body_at_the_limit_is_not_413_http2(server, demo, declared):
    body = b'{"name":"x"}' + b" " * (ONE_MIB - 12)
    extra = [("content-length", str(len(body)))] if declared else []
    up = h2_upload(server.port, demo.ca, h2_post_headers(ITEMS, extra), body)
    assert up.sent == len(body), up
    assert up.response.status not in (0,) + INPUT_STATUSES and not up.response.reset, up


# -- 414 and 431 ------------------------------------------------------------------

def test_request_line_over_8kib_is_414_http2(server, demo):
    r = h2_request(server.port, demo.ca, [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                                          (":path", "/" + "a" * 8300)])
    assert r.status == 414, r
    assert_error_body(r.json(), r.header("x-request-id"), "Request line too long")


@pytest.mark.parametrize("proto", PROTOS)
def test_request_line_under_8kib_is_served(server, demo, proto):
    r = curl(server.url("/" + "a" * 8000), proto, ca=demo.ca)
    assert r.status == 404, r


@pytest.mark.parametrize("proto", PROTOS)
def test_request_line_over_8kib_is_414(server, demo, proto):
    r = curl(server.url("/" + "a" * 8300), proto, ca=demo.ca)
    assert r.status == 414, r


@pytest.mark.parametrize("proto", PROTOS)
def test_headers_over_16kib_are_431(server, demo, proto):
    args = []
    for i in range(10):
        args += ["-H", "X-F%d: %s" % (i, "v" * 1700)]
    r = curl(server.url("/healthz"), proto, *args, ca=demo.ca)
    assert r.status == 431, r


@pytest.mark.parametrize("proto", PROTOS)
def test_headers_under_16kib_are_served(server, demo, proto):
    args = []
    for i in range(10):
        args += ["-H", "X-F%d: %s" % (i, "v" * 1400)]
    r = curl(server.url("/healthz"), proto, *args, ca=demo.ca)
    assert r.status == 200, r


def test_too_many_header_fields_http2_is_431(server, demo):
    extra = [("x-f%d" % i, "v") for i in range(120)]
    r = h2_request(server.port, demo.ca, [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                                          (":path", "/healthz")] + extra)
    assert r.status == 431, r
    ok = h2_request(server.port, demo.ca, [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                                           (":path", "/healthz")] + extra[:90])
    assert ok.status == 200, ok


# -- a policy with short timeouts and a small route body limit --------------------------

SHORT_TIMEOUT_S = 1


@pytest.fixture(scope="module")
def tight_server(bulwark_bin, demo, tmp_path_factory):
    policy = policy_variant(tmp_path_factory.mktemp("tight"), {
        "  header_timeout: 10s": "  header_timeout: %ds" % SHORT_TIMEOUT_S,
        "    body:\n      schema: login": "    body:\n      max_size: 1KiB\n      schema: login",
    })
    s = Server(bulwark_bin, demo, policy=policy).start()
    yield s
    s.stop()


def test_default_policy_header_timeout_is_10s():
    from conftest import DEFAULT_POLICY
    with open(DEFAULT_POLICY) as f:
        assert "\n  header_timeout: 10s\n" in f.read()


def test_slow_headers_are_cut_off(tight_server, demo):
    sock = tls_socket(tight_server.port, demo.ca)
    # one byte of a header every 200 ms, for up to 5 s: never a whole head
    took = dribble_until_closed(sock, 0.2, 5)
    assert took is not None, "a client dribbling its headers for 5 s was never cut off"
    assert SHORT_TIMEOUT_S - 0.3 <= took <= SHORT_TIMEOUT_S + 2, "cut off after %.1f s" % took


def test_prompt_client_is_served_by_the_tight_server(tight_server, demo):
    r = curl(tight_server.url("/healthz"), ca=demo.ca)
    assert r.status == 200, r


@pytest.mark.parametrize("proto", PROTOS)
def test_route_body_limit_is_413(tight_server, demo, proto):
    body = json.dumps({"username": "a" * 100, "password": "p" * 100}) + " " * 2000
    r = post(tight_server, demo, proto, LOGIN, body)
    assert r.status == 413, r
    assert_error_body(r.json(), r.header("x-request-id"), "Request body too large")
    small = post(tight_server, demo, proto, LOGIN, '{"username":"a","password":"b"}')
    assert small.status not in INPUT_STATUSES, small
    # the route's limit is the route's: another route keeps the policy's 1 MiB
    other = post(tight_server, demo, proto, RESET, '{"email":"a@b"}' + " " * 2000)
    assert other.status not in INPUT_STATUSES, other
