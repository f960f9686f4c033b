"""DEFAULT-POLICY.md, "Routes": GET / is the landing page, GET /healthz is
{"status": "ok"}, /docs, /redoc, /openapi.json, /debug and anything else
are 404, a known path with another method is 405 with Allow. And the
command line around the policy: the baked-in policy is the default, a
policy that fails `policy check` is refused at start, the TLS identity comes
from the secrets directory."""

import os
import subprocess

import pytest

from conftest import REPO, Server, curl, free_port
from policy_helpers import assert_error_body, assert_security_headers, h1_raw, h1_request, h2_get

pytestmark = pytest.mark.integration

PROTOS = ["--http1.1", "--http2"]


@pytest.mark.parametrize("proto", PROTOS)
def test_landing_page(server, demo, proto):
    r = curl(server.url("/"), proto, ca=demo.ca)
    assert r.status == 200, r
    assert r.header("content-type") == "text/html; charset=utf-8", r
    assert r.body.startswith(b"<!doctype html>") and b"Bulwark" in r.body, r


@pytest.mark.parametrize("path", ["/", "/healthz"])
def test_head(server, demo, path):
    r = h2_get(server.port, demo.ca, path, method="HEAD")
    assert r.status == 200 and r.body == b"", r
    r = h1_raw(server.port, demo.ca, h1_request("HEAD", path, [("Connection", "close")]))
    assert r.status == 200 and int(r.header("content-length")) > 0, r
    assert r.data.endswith(b"\r\n\r\n"), r


@pytest.mark.parametrize("proto", PROTOS)
def test_healthz(server, demo, proto):
    r = curl(server.url("/healthz"), proto, ca=demo.ca)
    assert r.status == 200 and r.json() == {"status": "ok"}, r


NOT_FOUND = ["/docs", "/docs/", "/redoc", "/openapi.json", "/debug", "/debug/vars", "/swagger-ui.html", "/.env",
             "/.git/config", "/server-status", "/actuator/health", "/api", "/api/", "/api/items/", "/healthz/",
             "/HEALTHZ", "/index.html", "/api/auth/login/x", "/%2e%2e/etc/passwd", "/api/users/me/extra"]


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("path", NOT_FOUND)
def test_everything_else_is_404(server, demo, proto, path):
    r = curl(server.url(path), proto, "--path-as-is", ca=demo.ca)
    assert r.status == 404, r
    assert_error_body(r.json(), r.header("x-request-id"), "Not Found")
    assert_security_headers(r.headers, where=path)


# (method, path, Allow)
WRONG_METHOD = [
    ("POST", "/healthz", "GET, HEAD"),
    ("DELETE", "/", "GET, HEAD"),
    ("PUT", "/healthz", "GET, HEAD"),
    ("GET", "/api/auth/login", "POST"),
    ("PATCH", "/api/auth/password-reset", "POST"),
    ("GET", "/api/items", "POST"),
    ("DELETE", "/api/items/1", "GET, HEAD"),
    ("GET", "/api/admin/users/bob", "DELETE"),
    ("OPTIONS", "/healthz", "GET, HEAD"),
    ("BREW", "/healthz", "GET, HEAD"),
]


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("method,path,allow", WRONG_METHOD)
def test_known_path_with_another_method_is_405(server, demo, proto, method, path, allow):
    r = curl(server.url(path), proto, "-X", method, ca=demo.ca)
    assert r.status == 405, r
    assert r.header("allow") == allow, r
    assert_error_body(r.json(), r.header("x-request-id"), "Method Not Allowed")
    assert_security_headers(r.headers, landing=(path == "/"), where="405 " + path)


def test_405_is_logged_with_its_detail(server, demo):
    rid = "routes-405"
    r = curl(server.url("/healthz"), "-X", "POST", "-H", "X-Request-ID: " + rid, ca=demo.ca)
    assert r.status == 405, r
    rec = server.request_record(rid)
    assert rec["status"] == 405 and rec["detail"] == "Method Not Allowed" and rec["path"] == "/healthz", rec


def test_dot_segments_are_resolved_before_routing(server, demo):
    r = h1_raw(server.port, demo.ca, h1_request("GET", "/docs/../healthz"))
    assert r.status == 200, r
    r = h2_get(server.port, demo.ca, "/api/../docs")
    assert r.status == 404, r


def test_query_does_not_change_the_route(server, demo):
    r = curl(server.url("/healthz?x=1"), ca=demo.ca)
    assert r.status == 200, r
    r = curl(server.url("/docs?healthz"), ca=demo.ca)
    assert r.status == 404, r


def test_access_log_has_the_client_address(server, demo):
    rid = "routes-client"
    curl(server.url("/healthz"), "-H", "X-Request-ID: " + rid, "-H", "X-Forwarded-For: 203.0.113.9", ca=demo.ca)
    rec = server.request_record(rid)
    # no trusted proxies by default: X-Forwarded-For is ignored
    assert rec["client"] == server.client_address, rec


# -- the command line around the policy ----------------------------------------------

def test_builtin_policy_is_the_default(bulwark_bin, demo):
    s = Server(bulwark_bin, demo, policy=None, http_hosts=()).start()
    try:
        r = curl(s.url("/"), ca=demo.ca)
        assert r.status == 200 and b"Bulwark" in r.body, r
        assert curl(s.url("/docs"), ca=demo.ca).status == 404
        assert curl(s.url("/healthz"), "-H", "Host: evil.example", ca=demo.ca).status == 400
    finally:
        s.stop()


def test_tls_identity_from_the_secrets_directory(bulwark_bin, demo):
    s = Server(bulwark_bin, demo, cert_args=False, http_hosts=()).start()
    try:
        r = curl(s.url("/healthz"), ca=demo.ca)
        assert r.status == 200, r
    finally:
        s.stop()


def start_refused(bulwark_bin, demo, *args):
    argv = [bulwark_bin, "serve", "--https", "127.0.0.1:%d" % free_port(), "--secrets", demo.secrets,
            "--threads", "1"] + list(args)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@pytest.mark.parametrize("rule", ["hsts", "cors-wildcard", "hosts-wildcard", "docs-exposed", "login-limit",
                                  "tls-version", "body-limit"])
def test_insecure_policy_is_refused_at_start(bulwark_bin, demo, rule):
    path = os.path.join(REPO, "policy", "examples", "insecure", rule + ".yaml")
    rc, out, err = start_refused(bulwark_bin, demo, "--policy", path)
    assert rc == 1, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bulwark: error: "), err
    assert "FAIL %s:" % rule in lines[0] and "Fix:" in lines[0], err
    assert "listening" not in out


def test_unloadable_policy_is_refused_at_start(bulwark_bin, demo, tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("version: 1\nhosts: [\n")
    rc, out, err = start_refused(bulwark_bin, demo, "--policy", str(f))
    assert rc == 1 and err.startswith("bulwark: error: ") and "broken.yaml" in err, (rc, err)


def test_missing_secrets_directory_is_refused(bulwark_bin, tmp_path):
    argv = [bulwark_bin, "serve", "--https", "127.0.0.1:%d" % free_port(), "--secrets", str(tmp_path / "nope")]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    assert p.returncode == 1 and p.stderr.decode().startswith("bulwark: error: secrets directory"), p


# -- proxy routes (policy/SCHEMA.md routes[].proxy; not in the default policy) ---------

import http.server
import json
import threading


class Upstream(http.server.BaseHTTPRequestHandler):
    """An API that leaks: stack traces in 500s, Server/X-Powered-By, a
    wildcard CORS header; it echoes what it received otherwise."""

    def do_GET(self):
        headers = [("Content-Type", "application/json"), ("Server", "gunicorn/20.1.0"), ("X-Powered-By", "Express"),
                   ("Access-Control-Allow-Origin", "*"), ("Cache-Control", "public, max-age=3600")]
        if "/boom" in self.path:
            status, body = 500, b"Traceback (most recent call last):\n  File \"/srv/app.py\", line 3\nKeyError: 10.0.0.5"
            headers[0] = ("Content-Type", "text/plain")
        elif "/missing" in self.path:
            status, body = 404, b'{"error":"no such order"}'
        else:
            status = 200
            body = json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                               "host_fields": self.headers.get_all("Host") or []}).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def proxy_server(bulwark_bin, demo, tmp_path_factory):
    from policy_helpers import policy_variant
    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    dead_port = free_port()
    route = ("  - path: /api/orders/{id}\n    methods: [GET]\n    proxy:\n      upstream: http://127.0.0.1:%d/v1/orders\n\n"
             "  - path: /api/down\n    methods: [GET]\n    proxy:\n      upstream: http://127.0.0.1:%d/\n\n"
             % (up.server_address[1], dead_port))
    policy = policy_variant(tmp_path_factory.mktemp("proxy"),
                            {"  - path: /api/admin/users/{id}": route + "  - path: /api/admin/users/{id}"})
    s = Server(bulwark_bin, demo, policy=policy, http_hosts=()).start()
    yield s
    s.stop()
    up.shutdown()


def test_proxy_routes_leave_nothing_behind_at_exit(bulwark_bin, demo, tmp_path):
    # Each proxy route copies its upstream URL; the copies are freed when the
    # configuration is disposed (under make test-sanitize, LeakSanitizer
    # fails the server's exit when one is not).
    from policy_helpers import policy_variant
    route = "  - path: /api/up\n    methods: [GET]\n    proxy:\n      upstream: http://127.0.0.1:%d/v1\n\n" % free_port()
    policy = policy_variant(tmp_path, {"  - path: /api/admin/users/{id}": route + "  - path: /api/admin/users/{id}"})
    s = Server(bulwark_bin, demo, policy=policy, http_hosts=()).start()
    s.stop()


@pytest.mark.parametrize("proto", PROTOS)
def test_proxy_forwards_below_the_upstream_path(proxy_server, demo, proto):
    r = curl(proxy_server.url("/api/orders/42?x=1&y=2"), proto, "-H", "X-Auth-Subject: admin",
             "-H", "x-auth-scopes: admin", "-H", "X-AUTH-Anything: 1", "-H", "Origin: https://evil.example",
             ca=demo.ca)
    assert r.status == 200, r
    got = r.json()
    assert got["path"] == "/v1/orders/42?x=1&y=2", got
    assert not [k for k in got["headers"] if k.startswith("x-auth-")], got  # the client cannot speak for itself
    assert "server" not in r.headers and "x-powered-by" not in r.headers, r
    assert not [k for k in r.headers if k.startswith("access-control-")], r
    assert r.header("cache-control") == "no-store", r
    assert_security_headers(r.headers, where="proxied 200")


def test_proxy_sends_one_host(proxy_server, demo):
    # an HTTP/2 host field that agrees with :authority passes the host check,
    # which removes it: the upstream sees the proxy's Host only
    r = h2_get(proxy_server.port, demo.ca, "/api/orders/7", authority="localhost", extra=[("host", "localhost")])
    assert r.status == 200, r
    assert len(r.json()["host_fields"]) == 1, r
    r = curl(proxy_server.url("/api/orders/7"), "--http1.1", ca=demo.ca)
    assert r.status == 200 and len(r.json()["host_fields"]) == 1, r


def test_proxy_upstream_5xx_body_is_replaced(proxy_server, demo):
    r = curl(proxy_server.url("/api/orders/boom"), "-H", "X-Request-ID: px-500", ca=demo.ca)
    assert r.status == 500, r
    assert_error_body(r.json(), "px-500", "Internal server error")
    assert b"Traceback" not in r.body and b"10.0.0.5" not in r.body, r
    assert_security_headers(r.headers, where="proxied 500")
    assert proxy_server.request_record("px-500")["detail"] == "Internal server error"


def test_proxy_upstream_4xx_passes(proxy_server, demo):
    r = curl(proxy_server.url("/api/orders/missing"), ca=demo.ca)
    assert r.status == 404 and r.json() == {"error": "no such order"}, r


def test_proxy_upstream_down_is_a_json_502(proxy_server, demo):
    r = curl(proxy_server.url("/api/down"), "-H", "X-Request-ID: px-502", ca=demo.ca)
    assert r.status == 502, r
    assert_error_body(r.json(), "px-502", "Bad gateway")
    assert b"127.0.0.1" not in r.body, r


def test_proxy_route_keeps_its_method_and_param_rules(proxy_server, demo):
    assert curl(proxy_server.url("/api/orders/42"), "-X", "DELETE", ca=demo.ca).status == 405
    assert curl(proxy_server.url("/api/orders"), ca=demo.ca).status == 404
    r = h1_raw(proxy_server.port, demo.ca, h1_request("GET", "/api/orders/../../healthz"))
    assert r.status == 200 and r.json() == {"status": "ok"}, r  # resolved before routing, never sent upstream


# -- the client address behind a trusted proxy ------------------------------------------

@pytest.fixture(scope="module")
def behind_proxy_server(bulwark_bin, demo, tmp_path_factory):
    from policy_helpers import policy_variant
    policy = policy_variant(tmp_path_factory.mktemp("xff"), {"trusted_proxies: []": "trusted_proxies: [127.0.0.1]"})
    s = Server(bulwark_bin, demo, policy=policy, http_hosts=()).start()
    yield s
    s.stop()


@pytest.mark.parametrize("xff,client", [
    (None, "127.0.0.1"),                               # no header: the peer
    ("198.51.100.7", "198.51.100.7"),
    ("198.51.100.7, 127.0.0.1", "198.51.100.7"),       # trusted hops are skipped
    ("1.2.3.4, 198.51.100.7", "198.51.100.7"),         # the client's own entries prove nothing
    ("2001:db8::1", "2001:db8::1"),
    ("not-an-address", "127.0.0.1"),                   # an unreadable hop: the nearest proxy
    ("1.2.3.4, junk, 198.51.100.7", "198.51.100.7"),
])
def test_client_address_from_trusted_proxy(behind_proxy_server, demo, xff, client):
    rid = "xff-%d" % abs(hash((xff, client)))
    args = ["-H", "X-Request-ID: " + rid]
    if xff is not None:
        args += ["-H", "X-Forwarded-For: " + xff]
    r = curl(behind_proxy_server.url("/healthz"), *args, ca=demo.ca)
    assert r.status == 200, r
    rec = behind_proxy_server.request_record(rid)
    assert rec["client"] == client, rec
    assert rec["peer"].startswith("127.0.0.1:"), rec
