"""DEFAULT-POLICY.md, "Hosts": only localhost, 127.0.0.1, [::1],
bulwark.test and *.bulwark.test (any port) are served; anything else, a
missing or malformed host, gets 400 {"detail": "Invalid host header"} over
HTTP/1.1, HTTP/2 and on the plain-HTTP listener (before its redirect)."""

import pytest

from policy_helpers import (assert_error_body, assert_security_headers, h1_raw, h1_request, h2_get,
                            h2_request)

pytestmark = pytest.mark.integration

ALLOWED = ["localhost", "localhost:8443", "LOCALHOST", "127.0.0.1", "127.0.0.1:443", "[::1]", "[::1]:8443",
           "[0:0:0:0:0:0:0:1]", "bulwark.test", "Bulwark.Test:1", "a.bulwark.test", "a-b.c.bulwark.test:65535"]
REFUSED = [
    "evil.example", "evil.example:8443",
    "bulwark.test.evil.example",      # suffix after an allowed name
    "evilbulwark.test",               # prefix glued to the domain
    ".bulwark.test",                  # the wildcard needs a label
    "bulwark.test.",                  # trailing dot
    "localhost.",
    "a..bulwark.test",
    "user@localhost", "localhost@evil.example", "user:pw@bulwark.test",
    "localhost:", "localhost:abc", "localhost:99999", "localhost:8443:1", "localhost:-1",
    "127.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "127.0.0.2", "127.0.0.1.",
    "[::2]", "[::1", "::1", "[::1]x", "[::1]:", "[localhost]", "[::ffff:127.0.0.1]",
    "localhost localhost", "localhost,evil.example", "local_host", "xn--localhost",
    "*", "*.bulwark.test",
]


def assert_invalid_host(r, where):
    assert r.status == 400, "%s: %r" % (where, r)
    rid = r.header("x-request-id")
    assert_error_body(r.json(), rid, "Invalid host header")
    assert_security_headers(dict(r.headers), https=True, where=where)


@pytest.mark.parametrize("host", ALLOWED)
def test_allowed_host_http1(server, demo, host):
    r = h1_raw(server.port, demo.ca, h1_request("GET", "/healthz", host=host))
    assert r.status == 200, r


@pytest.mark.parametrize("host", ALLOWED)
def test_allowed_authority_http2(server, demo, host):
    r = h2_get(server.port, demo.ca, "/healthz", authority=host)
    assert r.status == 200, r


@pytest.mark.parametrize("host", REFUSED)
def test_refused_host_http1(server, demo, host):
    r = h1_raw(server.port, demo.ca, h1_request("GET", "/healthz", host=host))
    if r.status == 400 and r.header("x-request-id") is None:
        pytest.fail("refused by the parser, not the host check (no request id): %r" % r)
    assert_invalid_host(r, host)


@pytest.mark.parametrize("host", [h for h in REFUSED if " " not in h and "," not in h])
def test_refused_authority_http2(server, demo, host):
    assert_invalid_host(h2_get(server.port, demo.ca, "/healthz", authority=host), host)


def test_missing_host_http11(server, demo):
    assert_invalid_host(h1_raw(server.port, demo.ca, h1_request("GET", "/healthz", host=None)), "no Host")


def test_missing_host_http10(server, demo):
    assert_invalid_host(h1_raw(server.port, demo.ca, h1_request("GET", "/healthz", host=None, version="HTTP/1.0")),
                        "HTTP/1.0 without Host")


def test_empty_host(server, demo):
    assert_invalid_host(h1_raw(server.port, demo.ca, h1_request("GET", "/healthz", host="")), "empty Host")


def test_missing_authority_http2(server, demo):
    # no :authority and no host: nothing names the host
    r = h2_request(server.port, demo.ca, [(":method", "GET"), (":scheme", "https"), (":path", "/healthz")])
    assert_invalid_host(r, "no :authority")


def test_absolute_form_naming_another_host(server, demo):
    r = h1_raw(server.port, demo.ca, h1_request("GET", "https://evil.example/healthz", host="localhost"))
    assert_invalid_host(r, "absolute-form to another host")


def test_absolute_form_naming_the_same_host_is_not_a_host_error(server, demo):
    r = h1_raw(server.port, demo.ca, h1_request("GET", "https://localhost/healthz", host="localhost"))
    assert r.status != 400 or r.json().get("detail") != "Invalid host header", r


def test_sni_does_not_choose_the_host(server, demo):
    # a trusted SNI name with an untrusted Host is still refused
    from policy_helpers import Raw, tls_socket
    from conftest import read_http1_response
    sock = tls_socket(server.port, demo.ca, server_hostname="bulwark.test")
    try:
        sock.sendall(h1_request("GET", "/healthz", host="evil.example"))
        got, _ = read_http1_response(sock)
    finally:
        sock.close()
    assert got is not None and got[0] == 400, got


# Two Host fields (RFC 9112 3.2), or an HTTP/2 host field beside :authority
# that names another authority (RFC 9113 8.3.1): two parties reading a
# different one is how host checks, routing and caches are split. Stock h2o
# kept the last Host and dropped the HTTP/2 host field before any handler
# ran; patch 0015 keeps them for the host check.

@pytest.mark.parametrize("hosts", [("localhost", "evil.example"), ("evil.example", "localhost"),
                                   ("localhost", "localhost"), ("localhost", "bulwark.test")])
def test_duplicate_host_http1(server, demo, hosts):
    raw = h1_request("GET", "/healthz", [("Host", hosts[1])], host=hosts[0])
    assert_invalid_host(h1_raw(server.port, demo.ca, raw), "Host: %s + Host: %s" % hosts)


def test_duplicate_host_plain_http_is_400_not_redirect(server):
    raw = h1_request("GET", "/healthz", [("Host", "evil.example")], host="localhost")
    r = h1_raw(server.http_port, None, raw, tls=False)
    assert r.status == 400 and r.header("location") is None, r
    assert_error_body(r.json(), r.header("x-request-id"), "Invalid host header")
    assert_security_headers(r.headers, https=False, where="two Hosts on plain HTTP")


@pytest.mark.parametrize("authority,host", [("localhost", "evil.example"), ("localhost", "bulwark.test"),
                                            ("bulwark.test", "localhost"), ("localhost", "localhost.evil.example")])
def test_authority_and_host_mismatch_http2(server, demo, authority, host):
    r = h2_get(server.port, demo.ca, "/healthz", authority=authority, extra=[("host", host)])
    assert_invalid_host(r, ":authority %s, host %s" % (authority, host))


def test_two_host_fields_http2(server, demo):
    r = h2_get(server.port, demo.ca, "/healthz", authority="localhost", extra=[("host", "localhost"), ("host", "localhost")])
    assert_invalid_host(r, "two host fields")


@pytest.mark.parametrize("authority,host", [("localhost", "localhost"), ("localhost:8443", "LOCALHOST:8443"),
                                            ("a.bulwark.test", "A.Bulwark.Test")])
def test_authority_and_agreeing_host_http2_is_served(server, demo, authority, host):
    r = h2_get(server.port, demo.ca, "/healthz", authority=authority, extra=[("host", host)])
    assert r.status == 200, r


def test_host_instead_of_authority_http2_untrusted(server, demo):
    r = h2_request(server.port, demo.ca, [(":method", "GET"), (":scheme", "https"), (":path", "/healthz"),
                                          ("host", "evil.example")])
    assert r.status == 400, r


# -- the plain-HTTP listener: host check first, then the redirect --------------------

@pytest.mark.parametrize("host", ["evil.example", "bulwark.test.evil.example", "localhost.", "user@localhost"])
def test_plain_http_untrusted_host_is_400_not_redirect(server, demo, host):
    r = h1_raw(server.http_port, None, h1_request("GET", "/healthz", host=host), tls=False)
    assert r.status == 400, r
    assert r.header("location") is None, r
    assert r.json()["detail"] == "Invalid host header", r
    assert "strict-transport-security" not in r.headers, r


def test_plain_http_missing_host_is_400(server):
    r = h1_raw(server.http_port, None, h1_request("GET", "/healthz", host=None), tls=False)
    assert r.status == 400 and r.header("location") is None, r


@pytest.mark.parametrize("host", ["localhost", "a.bulwark.test:8080", "[::1]:80"])
def test_plain_http_trusted_host_redirects(server, host):
    r = h1_raw(server.http_port, None, h1_request("GET", "/p?q=1", host=host), tls=False)
    assert r.status == 308, r
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    assert r.header("location") == server.https_origin(name) + "/p?q=1", r
