"""DEFAULT-POLICY.md, "CORS": the exact allow-list. Allowed origins are
echoed with credentials and Vary: Origin; every look-alike (prefix, suffix,
null, http://, port, case, trailing dot, userinfo, path) gets no
Access-Control-* header at all; preflights get 204 with the allow headers
only for an allowed origin, method and header set, else 403 JSON."""

import pytest

from conftest import curl
from policy_helpers import assert_error_body, assert_security_headers, h1_raw, h1_request, h2_get

pytestmark = pytest.mark.integration

PROTOS = ["--http1.1", "--http2"]
ALLOWED = ["https://app.bulwark.test", "https://admin.bulwark.test"]
LOOKALIKES = [
    "null",
    "http://app.bulwark.test",                 # scheme
    "https://app.bulwark.test:443",            # default port spelled out
    "https://app.bulwark.test:8443",           # port
    "https://APP.bulwark.test",                # case
    "HTTPS://app.bulwark.test",
    "https://app.bulwark.test.",               # trailing dot
    "https://app.bulwark.test/",               # path
    "https://app.bulwark.test.evil.example",   # suffix added
    "https://evilapp.bulwark.test",            # prefix added
    "https://app.bulwark.tes",                 # truncated
    "https://pp.bulwark.test",
    "https://user@app.bulwark.test",           # userinfo
    "https://app.bulwark.test@evil.example",
    "https://bulwark.test",                    # the parent domain
    "https://other.bulwark.test",              # a trusted host, not an allowed origin
    "https://evil.example",
    "*",
    "https://app.bulwark.test https://evil.example",
    "https://app.bulwark.test, https://evil.example",
]
EXPOSE = "X-Request-ID, Retry-After, RateLimit, RateLimit-Policy"


def access_control(headers):
    return {k: v for k, v in headers.items() if k.startswith("access-control-")}


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("origin", ALLOWED)
def test_allowed_origin_is_echoed(server, demo, proto, origin):
    for path, status in (("/healthz", 200), ("/nope", 404), ("/", 200)):
        r = curl(server.url(path), proto, "-H", "Origin: " + origin, ca=demo.ca)
        assert r.status == status, r
        assert r.headers.get("access-control-allow-origin") == [origin], r
        assert r.headers.get("access-control-allow-credentials") == ["true"], r
        assert r.header("access-control-expose-headers") == EXPOSE, r
        assert "origin" in [v.strip().lower() for v in ",".join(r.headers.get("vary", [])).split(",")], r
        assert "access-control-allow-methods" not in r.headers, r  # preflight only


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("origin", LOOKALIKES)
def test_lookalike_origin_gets_no_cors_headers(server, demo, proto, origin):
    r = curl(server.url("/healthz"), proto, "-H", "Origin: " + origin, ca=demo.ca)
    assert r.status == 200, r
    assert access_control(r.headers) == {}, r


def test_no_origin_no_cors_headers_but_vary(server, demo):
    r = curl(server.url("/healthz"), ca=demo.ca)
    assert access_control(r.headers) == {}, r
    assert "Origin" in (r.header("vary") or ""), r


def test_two_origin_fields_are_no_origin(server, demo):
    raw = h1_request("GET", "/healthz", [("Origin", ALLOWED[0]), ("Origin", "https://evil.example")])
    r = h1_raw(server.port, demo.ca, raw)
    assert r.status == 200, r
    assert access_control(r.headers) == {}, r


def preflight(server, demo, proto, origin, method="POST", headers=None, path="/api/items"):
    args = [proto, "-X", "OPTIONS", "-H", "Origin: " + origin, "-H", "Access-Control-Request-Method: " + method]
    if headers is not None:
        args += ["-H", "Access-Control-Request-Headers: " + headers]
    return curl(server.url(path), *args, ca=demo.ca)


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("origin", ALLOWED)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_preflight_allowed(server, demo, proto, origin, method):
    r = preflight(server, demo, proto, origin, method, "Authorization, Content-Type")
    assert r.status == 204, r
    assert r.body == b"", r
    assert r.headers.get("access-control-allow-origin") == [origin], r
    assert r.header("access-control-allow-credentials") == "true", r
    assert r.header("access-control-allow-methods") == "GET, POST, PUT, PATCH, DELETE", r
    assert r.header("access-control-allow-headers") == "Authorization, Content-Type, X-Request-ID", r
    assert r.header("access-control-max-age") == "600", r
    assert "Origin" in (r.header("vary") or ""), r
    assert_security_headers(r.headers, where="preflight 204")


@pytest.mark.parametrize("requested", ["content-type", "AUTHORIZATION,x-request-id", " Content-Type , Authorization ",
                                       "authorization,,content-type"])
def test_preflight_request_headers_are_case_insensitive_lists(server, demo, requested):
    r = preflight(server, demo, "--http1.1", ALLOWED[0], "POST", requested)
    assert r.status == 204, r


def test_preflight_without_request_headers(server, demo):
    r = preflight(server, demo, "--http2", ALLOWED[1], "DELETE")
    assert r.status == 204, r


def assert_refused(r):
    assert r.status == 403, r
    assert access_control(r.headers) == {}, r
    assert_error_body(r.json(), r.header("x-request-id"))
    assert_security_headers(r.headers, where="preflight 403")


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("origin", LOOKALIKES[:8])
def test_preflight_from_other_origin_is_403(server, demo, proto, origin):
    assert_refused(preflight(server, demo, proto, origin, "POST", "Content-Type"))


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "CONNECT", "post", "PROPFIND"])
def test_preflight_for_other_method_is_403(server, demo, method):
    assert_refused(preflight(server, demo, "--http1.1", ALLOWED[0], method))


@pytest.mark.parametrize("requested", ["X-Custom", "Content-Type, X-Custom", "Cookie", "*", "Authorization X"])
def test_preflight_for_other_header_is_403(server, demo, requested):
    assert_refused(preflight(server, demo, "--http2", ALLOWED[0], "POST", requested))


def test_preflight_over_raw_http2(server, demo):
    r = h2_get(server.port, demo.ca, "/api/auth/login", method="OPTIONS",
               extra=[("origin", ALLOWED[0]), ("access-control-request-method", "POST")])
    assert r.status == 204, r
    assert r.header("access-control-allow-origin") == ALLOWED[0], r
    r = h2_get(server.port, demo.ca, "/api/auth/login", method="OPTIONS",
               extra=[("origin", "null"), ("access-control-request-method", "POST")])
    assert r.status == 403 and r.header("access-control-allow-origin") is None, r


def test_plain_options_is_not_a_preflight(server, demo):
    # without Access-Control-Request-Method it is an ordinary request: 405
    r = curl(server.url("/healthz"), "-X", "OPTIONS", "-H", "Origin: " + ALLOWED[0], ca=demo.ca)
    assert r.status == 405, r
    assert r.header("access-control-allow-origin") == ALLOWED[0], r
