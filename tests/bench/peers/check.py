#!/usr/bin/python3
"""Holds one server of tests/bench/peers.sh to the contract the benchmark
relies on, with curl (no load): the same answers from Bulwark, nginx and the
FastAPI app, so that a misconfigured peer cannot produce a figure.

  check.py NAME BASE_URL [--h2] [--server-header VALUE] [--rate-limit N]

BASE_URL is https://localhost:PORT. Checked over HTTP/1.1 (and HTTP/2 with
--h2): /healthz 200 {"status":"ok"}; a 404 {"detail":"Not Found",
"reference"}; the security headers; X-Request-ID (kept when well formed,
replaced otherwise, the error's reference); trusted hosts (400 JSON for
another); CORS (exact origins, Vary: Origin, preflights 204/403). With
--rate-limit N instead (a fresh server started with a general limit of N
per minute): /healthz is exempt, N requests to a 404 path pass and the
next gets 429 JSON with Retry-After. --server-header VALUE: the one Server header value
allowed (nginx's, which stock nginx cannot drop); none by default.
Prints one line per failed check; exits 1 if any.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

TESTS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# DEFAULT-POLICY.md's headers, as the integration tests hold Bulwark to them
sys.path[:0] = [os.path.join(TESTS, "integration"), TESTS]
from policy_helpers import HSTS, SECURITY_HEADERS  # noqa: E402  (needs the path above)

SECURITY = dict(SECURITY_HEADERS, **{"strict-transport-security": HSTS})
ORIGIN = "https://app.bulwark.test"
OTHER_ORIGINS = ["null", "http://app.bulwark.test", "https://app.bulwark.test.evil.example",
                 "https://evilapp.bulwark.test", "https://APP.bulwark.test", "https://app.bulwark.test:8443"]
NOT_FOUND = "/no-such-route"

failures = []


class Response:
    def __init__(self, status, version, headers, body):
        self.status, self.version, self.headers, self.body = status, version, headers, body

    def header(self, name):
        values = self.headers.get(name, [])
        return values[0] if len(values) == 1 else None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def fetch(url, proto, method="GET", headers=()):
    with tempfile.TemporaryDirectory() as tmp:
        hfile, bfile = os.path.join(tmp, "h"), os.path.join(tmp, "b")
        cmd = ["curl", "-sk", "--max-time", "10", "-X", method, "-D", hfile, "-o", bfile,
               "-w", "%{http_code} %{http_version}", "--http2" if proto == "h2" else "--http1.1"]
        for h in headers:
            cmd += ["-H", h]
        out = subprocess.run(cmd + [url], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            return Response(0, "", {}, "curl failed: " + out.stderr)
        status, version = out.stdout.split()
        parsed = {}
        with open(hfile, encoding="latin-1", newline="") as f:
            for line in f.read().split("\r\n")[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    parsed.setdefault(k.strip().lower(), []).append(v.strip())
        with open(bfile, encoding="utf-8", errors="replace") as f:
            body = f.read()
        return Response(int(status), version, parsed, body)


def expect(cond, what, r=None):
    if not cond:
        failures.append(what + ("" if r is None else
                                " (got %s %r, %s)" % (r.status, r.body[:120], sorted(r.headers))))


def common(r, what, args):
    """What every response carries."""
    for name, value in SECURITY.items():
        expect(r.header(name) == value, "%s: %s is %r" % (what, name, r.header(name)))
    expect(r.header("vary") is not None and "origin" in r.header("vary").lower(), "%s: no Vary: Origin" % what)
    expect(r.header("x-request-id"), "%s: no X-Request-ID" % what)
    server = r.headers.get("server", [])
    expect(server == ([args.server_header] if args.server_header else []), "%s: Server %r" % (what, server))
    expect("x-powered-by" not in r.headers, "%s: X-Powered-By" % what)


def no_cors(r, what):
    ac = [k for k in r.headers if k.startswith("access-control-")]
    expect(not ac, "%s: Access-Control headers %s" % (what, ac))


def error_json(r, status, detail, what, reference=None):
    expect(r.status == status, "%s: status %s, not %s" % (what, r.status, status), r)
    j = r.json()
    expect(isinstance(j, dict) and set(j) == {"detail", "reference"} and j["detail"] == detail,
           "%s: body %r" % (what, r.body[:200]))
    if isinstance(j, dict):
        expect(j.get("reference") == (reference or r.header("x-request-id")),
               "%s: reference %r, X-Request-ID %r" % (what, j.get("reference"), r.header("x-request-id")))
    expect((r.header("content-type") or "").startswith("application/json"), "%s: content-type" % what)


def check_proto(base, proto, args):
    port = base.rsplit(":", 1)[1]
    r = fetch(base + "/healthz", proto)
    expect(r.version == ("2" if proto == "h2" else "1.1"), "%s: HTTP version %r" % (proto, r.version))
    expect(r.status == 200 and r.json() == {"status": "ok"}, "%s /healthz" % proto, r)
    expect((r.header("content-type") or "").startswith("application/json"), "%s /healthz content-type" % proto)
    common(r, proto + " /healthz", args)
    no_cors(r, proto + " /healthz without Origin")

    r = fetch(base + "/healthz", proto, headers=["X-Request-ID: abc.DEF-1_2"])
    expect(r.header("x-request-id") == "abc.DEF-1_2", "%s: a valid X-Request-ID is kept" % proto, r)
    r = fetch(base + "/healthz", proto, headers=["X-Request-ID: bad id!"])
    expect(r.header("x-request-id") not in (None, "bad id!"), "%s: an invalid X-Request-ID is replaced" % proto, r)

    r = fetch(base + NOT_FOUND, proto, headers=["X-Request-ID: ref-404"])
    error_json(r, 404, "Not Found", proto + " 404", "ref-404")
    common(r, proto + " 404", args)
    for path in ("/docs", "/openapi.json", "/redoc"):
        r = fetch(base + path, proto)
        expect(r.status == 404, "%s %s: %s" % (proto, path, r.status), r)

    for host in ("evil.example", "localhost.evil.example", "bulwark.test.evil.example"):
        r = fetch(base + "/healthz", proto, headers=["Host: " + host])
        error_json(r, 400, "Invalid host header", "%s Host %s" % (proto, host))
        common(r, "%s Host %s" % (proto, host), args)
    for host in ("bulwark.test", "api.bulwark.test", "127.0.0.1:" + port):
        r = fetch(base + "/healthz", proto, headers=["Host: " + host])
        expect(r.status == 200, "%s Host %s allowed" % (proto, host), r)

    for path in ("/healthz", NOT_FOUND):
        r = fetch(base + path, proto, headers=["Origin: " + ORIGIN])
        expect(r.header("access-control-allow-origin") == ORIGIN, "%s %s: ACAO" % (proto, path), r)
        expect(r.header("access-control-allow-credentials") == "true", "%s %s: ACAC" % (proto, path), r)
        for other in OTHER_ORIGINS:
            r = fetch(base + path, proto, headers=["Origin: " + other])
            no_cors(r, "%s %s Origin %s" % (proto, path, other))
    pre = ["Access-Control-Request-Method: PUT", "Access-Control-Request-Headers: Content-Type, X-Request-ID"]
    r = fetch(base + "/healthz", proto, "OPTIONS", ["Origin: " + ORIGIN] + pre)
    expect(r.status == 204 and r.header("access-control-allow-origin") == ORIGIN
           and "PUT" in (r.header("access-control-allow-methods") or ""), "%s preflight allowed" % proto, r)
    common(r, proto + " preflight", args)
    for what, headers in (("origin", ["Origin: https://evil.example"] + pre),
                          ("method", ["Origin: " + ORIGIN, "Access-Control-Request-Method: TRACE"]),
                          ("header", ["Origin: " + ORIGIN, "Access-Control-Request-Method: GET",
                                      "Access-Control-Request-Headers: X-Evil"])):
        r = fetch(base + "/healthz", proto, "OPTIONS", headers)
        error_json(r, 403, "CORS request not allowed", "%s preflight, other %s" % (proto, what))
        no_cors(r, "%s preflight, other %s" % (proto, what))


def check_rate_limit(base, n, args):
    for _ in range(n + 2):
        r = fetch(base + "/healthz", "h1")
        expect(r.status == 200, "/healthz is exempt from the general limit", r)
    statuses = [fetch(base + NOT_FOUND, "h1").status for _ in range(n)]
    expect(statuses == [404] * n, "the first %d requests pass the limit: %s" % (n, statuses))
    r = fetch(base + NOT_FOUND, "h1")
    error_json(r, 429, "Rate limit exceeded", "over the general limit")
    common(r, "429", args)
    expect((r.header("retry-after") or "").isdigit(), "429 without Retry-After", r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("base")
    ap.add_argument("--h2", action="store_true")
    ap.add_argument("--server-header")
    ap.add_argument("--rate-limit", type=int)
    args = ap.parse_args()
    if args.rate_limit:
        check_rate_limit(args.base, args.rate_limit, args)
    else:
        for proto in ["h1", "h2"] if args.h2 else ["h1"]:
            check_proto(args.base, proto, args)
    for f in failures:
        print("%s: %s" % (args.name, f))
    print("%s: %s" % (args.name, "contract FAILED (%d)" % len(failures) if failures else "contract holds"),
          file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
