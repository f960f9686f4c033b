"""DEFAULT-POLICY.md, "Headers on every response": the security headers on
200, 404, 405, 400, 413, 414, 415, 422, 431 and 308 responses over HTTP/1.1
and HTTP/2 (h2o's own errors included, its HTTP/1.1 parser's too), HSTS
over HTTPS only, the landing page's CSP, Cache-Control on /api/, no Server
or version string, and the JSON error shape whose reference is X-Request-ID
and the log line's id."""

import re

import pytest

from conftest import curl
from policy_helpers import (HSTS, assert_error_body, assert_security_headers, h1_raw, h1_request, h2_get,
                            h2_request)

pytestmark = pytest.mark.integration

PROTOS = ["--http1.1", "--http2"]


def flat(headers):
    return {k: v for k, v in headers.items()}


# (name, curl arguments, path, expected status)
CASES = [
    ("healthz", [], "/healthz", 200),
    ("landing", [], "/", 200),
    ("not-found", [], "/nope", 404),
    ("docs", [], "/docs", 404),
    ("method", ["-X", "POST"], "/healthz", 405),
    ("bad-host", ["-H", "Host: evil.example"], "/healthz", 400),
    ("media-type", ["-X", "POST", "-H", "Content-Type: text/plain", "--data-binary", "x"], "/api/auth/login", 415),
    ("schema", ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "{}"], "/api/auth/login", 422),
]


def big_headers():
    args = []
    for i in range(10):
        args += ["-H", "X-F%d: %s" % (i, "v" * 1700)]
    return args


SIZE_CASES = [
    pytest.param("--http2", [], "/" + "a" * 9000, 414, id="414-h2"),
    pytest.param("--http2", big_headers(), "/healthz", 431, id="431-h2"),
    pytest.param("--http1.1", [], "/" + "a" * 9000, 414, id="414-h1"),
    pytest.param("--http1.1", big_headers(), "/healthz", 431, id="431-h1"),
]


@pytest.mark.parametrize("proto,args,path,status", SIZE_CASES)
def test_security_headers_on_size_refusals(server, demo, proto, args, path, status):
    r = curl(server.url(path), proto, *args, ca=demo.ca)
    assert r.status == status, r
    assert_security_headers(r.headers, where="%d %s" % (status, proto))
    assert_error_body(r.json(), r.header("x-request-id"))


# HTTP/1.1 heads h2o's parser refuses before any handler runs (patches 0005
# and 0006), answered through h2o's error path (0013): the same headers, JSON
# body and log line as every other error, and the connection closed.
BIG = [("X-F%d" % i, "v" * 1700) for i in range(10)]
PARSER_REFUSALS = [
    ("obs-fold", b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n b\r\n\r\n", 400, "Bad Request"),
    ("bare-lf", b"GET /healthz HTTP/1.1\nHost: localhost\r\n\r\n", 400, "Bad Request"),
    ("nul-in-value", b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\n\r\n", 400, "Bad Request"),
    ("not-http", b"\x16\x03\x01 hello\r\n\r\n", 400, "Bad Request"),
    ("line-too-long", h1_request("GET", "/" + "a" * 8300), 414, "Request line too long"),
    ("line-too-long-unfinished", b"GET /" + b"a" * 9000, 414, "Request line too long"),
    ("headers-too-large", h1_request("GET", "/healthz", BIG), 431, "Request headers too large"),
    ("headers-too-large-unfinished", h1_request("GET", "/healthz", BIG)[:-2], 431, "Request headers too large"),
    ("too-many-fields", h1_request("GET", "/healthz", [("X-F%d" % i, "v") for i in range(120)]), 431,
     "Request headers too large"),
]


@pytest.mark.parametrize("raw,status,detail", [c[1:] for c in PARSER_REFUSALS], ids=[c[0] for c in PARSER_REFUSALS])
def test_parser_refusal_is_a_json_error_with_the_headers(server, demo, raw, status, detail):
    r = h1_raw(server.port, demo.ca, raw, close_wait=5)
    assert r.status == status, r
    assert_security_headers(r.headers, where="parser %d" % status)
    assert (r.header("content-type") or "").startswith("application/json"), r
    rid = r.header("x-request-id")
    assert_error_body(r.json(), rid, detail)
    assert r.closed, "the connection stayed open: %r" % r
    rec = server.request_record(rid)
    assert rec["status"] == status and rec["detail"] == detail, rec


def test_parser_refusal_on_plain_http(server):
    r = h1_raw(server.http_port, None, PARSER_REFUSALS[0][1], tls=False)
    assert r.status == 400 and r.header("location") is None, r
    assert_security_headers(r.headers, https=False, where="parser 400 on plain HTTP")
    assert_error_body(r.json(), r.header("x-request-id"), "Bad Request")


def test_parser_refusal_trusts_nothing_of_the_head(server, demo):
    # a refused head's X-Request-ID is not taken (nor its method or path, in the log)
    raw = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: client-chosen-1\r\nX-A: a\r\n b\r\n\r\n"
    r = h1_raw(server.port, demo.ca, raw)
    assert r.status == 400, r
    rid = r.header("x-request-id")
    assert rid and rid != "client-chosen-1" and re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", rid), r
    rec = server.request_record(rid)
    assert rec["method"] == "" and rec["path"] == "" and rec["status"] == 400, rec


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("name,args,path,status", CASES, ids=[c[0] for c in CASES])
def test_security_headers_on_every_response(server, demo, proto, name, args, path, status):
    r = curl(server.url(path), proto, *args, ca=demo.ca)
    assert r.status == status, r
    assert_security_headers(r.headers, https=True, landing=(path == "/"), where="%s %s" % (name, proto))
    if status >= 400:
        assert_error_body(r.json(), r.header("x-request-id"))
        assert (r.header("content-type") or "").startswith("application/json"), r


def test_security_headers_on_h2o_413(server, demo):
    # h2o refuses the declared length before reading the body: its own error,
    # which the filters must still dress (JSON body, headers, request id).
    raw = h1_request("POST", "/healthz", [("Content-Type", "application/json"), ("Content-Length", str(2 * 1024 * 1024))])
    r = h1_raw(server.port, demo.ca, raw)
    assert r.status == 413, r
    assert_security_headers(r.headers, where="h2o 413")
    assert_error_body(r.json(), r.header("x-request-id"), "Request body too large")
    rec = server.request_record(r.header("x-request-id"))
    assert rec["status"] == 413 and rec["detail"] == "Request body too large", rec


def test_redirect_has_headers_but_no_hsts(server):
    r = curl("http://127.0.0.1:%d/healthz" % server.http_port)
    assert r.status == 308, r
    assert_security_headers(r.headers, https=False, where="308")
    assert r.json()["reference"] == r.header("x-request-id"), r


def test_plain_http_host_refusal_has_headers(server):
    r = curl("http://127.0.0.1:%d/healthz" % server.http_port, "-H", "Host: evil.example")
    assert r.status == 400, r
    assert_security_headers(r.headers, https=False, where="400 on plain HTTP")
    assert_error_body(r.json(), r.header("x-request-id"), "Invalid host header")


def test_hsts_value(server, demo):
    r = curl(server.url("/healthz"), ca=demo.ca)
    assert r.header("strict-transport-security") == HSTS, r


def test_landing_csp_only_at_root(server, demo):
    root = curl(server.url("/"), ca=demo.ca)
    assert "style-src 'self'" in root.header("content-security-policy"), root
    for path in ("/healthz", "/nope", "/index.html"):
        r = curl(server.url(path), ca=demo.ca)
        assert "'self'" not in r.header("content-security-policy"), r


@pytest.mark.parametrize("proto", PROTOS)
def test_cache_control_no_store_under_api(server, demo, proto):
    for args, path in (([], "/api/nothing"), ([], "/api/items/1"),
                       (["-X", "POST", "-H", "Content-Type: text/plain", "-d", "x"], "/api/auth/login")):
        r = curl(server.url(path), proto, *args, ca=demo.ca)
        assert r.header("cache-control") == "no-store", r
        assert_security_headers(r.headers, where=path)
    r = curl(server.url("/healthz"), proto, ca=demo.ca)
    assert r.header("cache-control") is None, r


def test_headers_over_raw_http2(server, demo):
    for path, status in (("/healthz", 200), ("/nope", 404)):
        r = h2_get(server.port, demo.ca, path)
        assert r.status == status, r
        assert_security_headers(r.headers, where="h2 " + path)


def test_h2o_http2_header_error_is_sanitised(server, demo):
    # An invalid character in a header value is h2o's own 400 over HTTP/2:
    # it must leave as our JSON error with the headers, never h2o's text.
    r = h2_request(server.port, demo.ca, [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                                          (":path", "/healthz"), ("x-bad", "a\x01b")])
    if r.reset:
        pytest.skip("this h2o resets the stream instead of answering 400")
    assert r.status == 400, r
    assert_security_headers(r.headers, where="h2 400")
    assert_error_body(r.json(), r.header("x-request-id"))


NO_LEAK = ("h2o", "2.2.5", "mbed", "bulwark/", "/work/", "/build/", "traceback", ".c:")


@pytest.mark.parametrize("proto", PROTOS)
def test_no_version_string_anywhere(server, demo, proto):
    for path in ("/healthz", "/", "/nope", "/" + "a" * 9000):
        r = curl(server.url(path), proto, ca=demo.ca)
        text = (" ".join("%s: %s" % (k, v) for k, vs in r.headers.items() for v in vs) + r.body.decode("latin-1")).lower()
        for needle in NO_LEAK:
            assert needle not in text, (needle, r)


def test_error_reference_is_the_request_id_and_in_the_log(server, demo):
    for proto in PROTOS:
        rid = "hdr-ref-" + proto.strip("-").replace(".", "_")
        r = curl(server.url("/docs"), proto, "-H", "X-Request-ID: " + rid, ca=demo.ca)
        assert r.status == 404, r
        assert r.header("x-request-id") == rid
        assert_error_body(r.json(), rid, "Not Found")
        rec = server.request_record(rid)
        assert rec["detail"] == "Not Found" and rec["status"] == 404, rec


def test_access_log_holds_no_header_values(server, demo):
    secret = "Bearer eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXRva2Vu.c2ln"
    rid = "hdr-redact"
    r = curl(server.url("/nope?access_token=qs-secret-123"), "-H", "Authorization: " + secret,
             "-H", "Cookie: session=cookie-secret-456", "-H", "X-Request-ID: " + rid, ca=demo.ca)
    assert r.status == 404, r
    server.request_record(rid)
    out = server.stdout_text()
    for s in ("eyJhbGciOiJFUzI1NiJ9", "cookie-secret-456", "qs-secret-123"):
        assert s not in out, s
