"""The HTTP surface of `bulwark serve`: /healthz, JSON 404s, request ids, the
HTTP→HTTPS redirect, the listening line and the access log. Real curl over
HTTP/1.1 and HTTP/2, verifying the demo CA (never -k)."""

import json
import re
import uuid

import pytest

from conftest import curl

pytestmark = pytest.mark.integration

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
HTTP_VERSIONS = {"--http1.1": "1.1", "--http2": "2"}
LOG_PROTOCOL = {"--http1.1": "HTTP/1.1", "--http2": "HTTP/2"}


def is_uuid4(s):
    return bool(s) and bool(UUID4.match(s)) and uuid.UUID(s).version == 4


@pytest.mark.parametrize("proto", sorted(HTTP_VERSIONS))
def test_healthz(server, demo, proto):
    r = curl(server.url("/healthz"), proto, ca=demo.ca)
    assert r.rc == 0, r
    assert r.status == 200, r
    assert r.version == HTTP_VERSIONS[proto], r
    assert r.json() == {"status": "ok"}, r
    ctype = r.header("content-type") or ""
    assert ctype.split(";")[0].strip() == "application/json", r


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "bulwark.test", "api.bulwark.test"])
def test_certificate_verifies_for_every_demo_name(server, demo, host):
    # --resolve sends the name in SNI and Host while connecting to loopback, so
    # curl checks the certificate against that name.
    r = curl("https://%s:%d/healthz" % (host, server.port),
             "--resolve", "%s:%d:127.0.0.1" % (host, server.port), ca=demo.ca)
    assert r.rc == 0 and r.status == 200, r


def test_unverifiable_certificate_is_rejected_by_the_client(server):
    # Control for the test above: without the demo CA, curl must refuse. If it
    # did not, "verifies" would prove nothing.
    r = curl(server.url("/healthz"), "--cacert", "/dev/null")
    assert r.rc != 0 and r.status == 0, r


@pytest.mark.parametrize("proto", sorted(HTTP_VERSIONS))
@pytest.mark.parametrize("path", ["/nope", "/healthz/extra", "/docs", "/HEALTHZ"])
def test_unknown_path_is_json_404_with_reference(server, demo, proto, path):
    r = curl(server.url(path), proto, ca=demo.ca)
    assert r.status == 404, r
    body = r.json()
    assert body.get("detail") == "Not Found", r
    rid = r.header("x-request-id")
    assert rid, r
    assert body.get("reference") == rid, r
    assert (r.header("content-type") or "").startswith("application/json"), r


@pytest.mark.parametrize("proto", sorted(HTTP_VERSIONS))
@pytest.mark.parametrize("path", ["/healthz", "/nope"])
def test_no_server_header(server, demo, proto, path):
    r = curl(server.url(path), proto, ca=demo.ca)
    assert r.status in (200, 404), r
    assert "server" not in r.headers, r
    assert "x-powered-by" not in r.headers, r


def test_no_server_header_on_redirect(server):
    r = curl("http://127.0.0.1:%d/x" % server.http_port)
    assert r.status == 308, r
    assert "server" not in r.headers, r


# -- X-Request-ID --------------------------------------------------------------

VALID_IDS = ["abc", "A", "req-1.2_3", "x" * 64, "0123456789abcdefABCDEF._-"]
INVALID_IDS = ["x" * 65, "has space", "semi;colon", "slash/", "quote\"", "colon:1",
               "caf\u00e9", "a,b", "<script>", "%41"]


@pytest.mark.parametrize("proto", sorted(HTTP_VERSIONS))
@pytest.mark.parametrize("rid", VALID_IDS)
def test_valid_request_id_is_echoed(server, demo, proto, rid):
    r = curl(server.url("/nope"), proto, "-H", "X-Request-ID: " + rid, ca=demo.ca)
    assert r.status == 404, r
    assert r.header("x-request-id") == rid, r
    assert r.json()["reference"] == rid, r


@pytest.mark.parametrize("rid", INVALID_IDS)
def test_invalid_request_id_is_replaced_by_a_uuid4(server, demo, rid):
    r = curl(server.url("/nope"), "--http1.1", "-H", "X-Request-ID: " + rid, ca=demo.ca)
    assert r.status == 404, r
    got = r.header("x-request-id")
    assert got != rid, r
    assert is_uuid4(got), r
    assert r.json()["reference"] == got, r


def test_invalid_request_id_over_http2_is_replaced(server, demo):
    r = curl(server.url("/nope"), "--http2", "-H", "X-Request-ID: " + "y" * 65, ca=demo.ca)
    assert r.status == 404 and r.version == "2", r
    assert is_uuid4(r.header("x-request-id")), r


def test_missing_request_id_gets_distinct_uuid4s(server, demo):
    ids = set()
    for _ in range(3):
        r = curl(server.url("/healthz"), ca=demo.ca)
        assert r.status == 200, r
        rid = r.header("x-request-id")
        assert is_uuid4(rid), r
        ids.add(rid)
    assert len(ids) == 3, "request ids repeat: %r" % ids


# -- HTTP listener: 308 to HTTPS ------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/healthz", "/a/b/c?x=1&y=two", "/nope?"])
def test_http_redirects_to_https_same_path_and_query(server, path):
    r = curl("http://127.0.0.1:%d%s" % (server.http_port, path))
    assert r.status == 308, r
    want = server.https_origin("127.0.0.1") + (path.rstrip("?") if path == "/nope?" else path)
    loc = r.header("location")
    if path == "/nope?":  # an empty query may or may not keep its '?'
        assert loc in (want, want + "?"), r
    else:
        assert loc == want, r
    r.json()  # the body is JSON


@pytest.mark.parametrize("host,expect", [
    ("bulwark.test", "bulwark.test"),
    ("bulwark.test:8080", "bulwark.test"),
    ("api.bulwark.test", "api.bulwark.test"),
    ("localhost:80", "localhost"),
])
def test_http_redirect_uses_request_host_and_https_port(server, host, expect):
    r = curl("http://127.0.0.1:%d/p?q=1" % server.http_port, "-H", "Host: " + host)
    assert r.status == 308, r
    assert r.header("location") == "https://%s:%d/p?q=1" % (expect, server.port), r


def test_http_redirect_follows_to_a_working_https_endpoint(server, demo):
    r = curl("http://localhost:%d/healthz" % server.http_port, "-L", ca=demo.ca)
    assert r.status == 200 and r.json() == {"status": "ok"}, r


def test_http_redirect_omits_port_443(bulwark_bin, demo):
    # Port 443 needs root (or CAP_NET_BIND_SERVICE). A random 127/8 address
    # keeps it clear of anything else on 443.
    import os
    import random
    from conftest import Server, free_port
    if os.geteuid() != 0:
        pytest.skip("binding port 443 needs root")
    ip = "127.%d.%d.%d" % (random.randint(1, 254), random.randint(1, 254), random.randint(2, 254))
    s = Server(bulwark_bin, demo,
               fixed={"https": [(ip, 443)], "http": [(ip, free_port(ip))]}).start()
    try:
        r = curl("http://%s:%d/a?b=c" % (ip, s.http_port), "-H", "Host: bulwark.test")
        assert r.status == 308, r
        assert r.header("location") == "https://bulwark.test/a?b=c", r
    finally:
        s.stop()


# -- the listening line and the access log ---------------------------------------

def test_listening_line(server, bulwark_bin):
    ev = server.listening
    assert isinstance(ev.get("ts"), (str, int, float)) and ev["ts"], ev
    assert ev["https"] == ["127.0.0.1:%d" % server.port], ev
    assert ev["http"] == ["127.0.0.1:%d" % server.http_port], ev
    assert ev["threads"] == server.threads, ev
    from conftest import run
    v = run([bulwark_bin, "version"]).stdout.decode().strip()
    assert v == "bulwark %s" % ev["version"], (v, ev)
    # One line, once.
    assert sum(1 for r in server.records if r.get("event") == "listening") == 1, server.lines[:5]


@pytest.mark.parametrize("proto", sorted(HTTP_VERSIONS))
def test_access_log_line(server, demo, proto):
    rid = "log-test-" + proto.strip("-").replace(".", "_")
    r = curl(server.url("/nope?token=s3cr3t-query-value&x=1"), proto,
             "-H", "X-Request-ID: " + rid, ca=demo.ca)
    assert r.status == 404, r
    rec = server.request_record(rid)
    assert rec["event"] == "request"
    assert rec["method"] == "GET"
    assert rec["path"] == "/nope", rec
    assert rec["status"] == 404, rec
    assert rec["protocol"] == LOG_PROTOCOL[proto], rec
    assert rec["tls"] in ("TLSv1.2", "TLSv1.3"), rec
    assert "127.0.0.1" in str(rec["peer"]), rec
    assert isinstance(rec["bytes"], int) and not isinstance(rec["bytes"], bool), rec
    assert rec["bytes"] >= len(r.body) > 0, rec
    assert isinstance(rec["duration_ms"], (int, float)) and rec["duration_ms"] >= 0, rec
    assert rec["ts"], rec


def test_access_log_records_tls_version(server, demo):
    for args, want in ((["--tlsv1.2", "--tls-max", "1.2"], "TLSv1.2"), (["--tlsv1.3"], "TLSv1.3")):
        rid = "tls-" + want.replace(".", "_")
        r = curl(server.url("/healthz"), "-H", "X-Request-ID: " + rid, *args, ca=demo.ca)
        assert r.status == 200, r
        rec = server.request_record(rid)
        assert rec["tls"] == want, rec
        assert rec["status"] == 200 and rec["path"] == "/healthz", rec


def test_access_log_plain_http_has_null_tls(server):
    rid = "plain-http-1"
    r = curl("http://127.0.0.1:%d/x?k=v" % server.http_port, "-H", "X-Request-ID: " + rid)
    assert r.status == 308, r
    rec = server.request_record(rid)
    assert rec["tls"] is None, rec
    assert rec["status"] == 308 and rec["path"] == "/x" and rec["protocol"] == "HTTP/1.1", rec


def test_query_string_never_reaches_the_log(server, demo):
    secret = "tok-9f8e7d6c5b4a"
    for proto in sorted(HTTP_VERSIONS):
        for path in ("/healthz?token=" + secret, "/nope?a=1&token=" + secret):
            rid = "q-%d" % abs(hash((proto, path)))
            r = curl(server.url(path), proto, "-H", "X-Request-ID: " + rid, ca=demo.ca)
            assert r.status in (200, 404), r
            server.request_record(rid)
    r = curl("http://127.0.0.1:%d/r?token=%s" % (server.http_port, secret),
             "-H", "X-Request-ID: q-http")
    assert r.status == 308
    server.request_record("q-http")
    assert secret not in server.stdout_text()
    assert secret not in server.stderr


def test_every_stdout_line_is_a_json_event(server, demo):
    curl(server.url("/healthz"), ca=demo.ca)
    bad = [l for l in server.lines if not _is_event(l)]
    assert not bad, "stdout lines that are not JSON events: %r" % bad[:5]


def _is_event(line):
    try:
        rec = json.loads(line)
    except ValueError:
        return False
    return isinstance(rec, dict) and "event" in rec and "ts" in rec


def test_ipv6_listener(bulwark_bin, demo):
    from conftest import Server, ipv6_loopback_works
    if not ipv6_loopback_works():
        pytest.skip("this host has no IPv6 loopback")
    s = Server(bulwark_bin, demo, https_hosts=["::1", "127.0.0.1"], http_hosts=["::1"]).start()
    try:
        assert s.listening["https"] == ["[::1]:%d" % s.https[0][1],
                                        "127.0.0.1:%d" % s.https[1][1]], s.listening
        for proto in sorted(HTTP_VERSIONS):
            r = curl("https://[::1]:%d/healthz" % s.https[0][1], proto, ca=demo.ca)
            assert r.status == 200 and r.json() == {"status": "ok"}, r
        r = curl("https://127.0.0.1:%d/healthz" % s.https[1][1], ca=demo.ca)
        assert r.status == 200, r
        r = curl("http://[::1]:%d/z" % s.http[0][1])
        assert r.status == 308, r
        assert r.header("location") == "https://[::1]:%d/z" % s.https[0][1], r
        rid = "v6-peer"
        curl("https://[::1]:%d/nope" % s.https[0][1], "-H", "X-Request-ID: " + rid, ca=demo.ca)
        assert "::1" in str(s.request_record(rid)["peer"])
    finally:
        s.stop()


def test_request_ids_differ_across_restarts(bulwark_bin, demo):
    # A generator seeded the same way at every start hands out the same ids
    # after each restart, so references in the logs collide.
    from conftest import Server
    first = []
    for _ in range(2):
        s = Server(bulwark_bin, demo, http_hosts=()).start()
        try:
            r = curl(s.url("/nope"), ca=demo.ca)
            assert r.status == 404 and is_uuid4(r.header("x-request-id")), r
            first.append(r.header("x-request-id"))
        finally:
            s.stop()
    assert first[0] != first[1], "the first request id is the same after a restart: %s" % first[0]
