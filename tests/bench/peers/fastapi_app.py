#!/usr/bin/python3
"""The FastAPI peer of tests/bench/peers.sh: our own implementation of
Bulwark's default-policy contract (DEFAULT-POLICY.md) for the routes the
benchmark loads, the way the defense-in-depth lesson builds it with FastAPI,
uvicorn and `limits` (all from Debian).

  /usr/bin/python3 tests/bench/peers/fastapi_app.py --port P --cert C --key K \
      [--general-limit "100/minute"]

What it implements, in Bulwark's order, as one pure ASGI middleware around
the FastAPI app (no BaseHTTPMiddleware, which costs a task per request):
- X-Request-ID: the client's when it matches [A-Za-z0-9._-]{1,64}, else a
  fresh UUIDv4; on every response and the `reference` of every error.
- Trusted hosts: Host must be localhost, 127.0.0.1, [::1], bulwark.test or
  a name under bulwark.test (any port), else 400 {"detail","reference"}.
- Security headers on every response (errors included); no Server header.
- CORS: the exact allow-list, credentials, Vary: Origin on every response,
  no Access-Control-* header for any other origin; preflights 204 or 403.
- The general rate limit per client address (/healthz exempt), with
  `limits` in memory: 429 JSON with Retry-After, RateLimit-Policy and
  RateLimit. Fixed window (slowapi's default): limits' exact moving window
  keeps a timestamp per request and counts them in Python on every hit,
  so at the bench's raised limit it would measure that list, not the app.
- GET /healthz -> {"status": "ok"}; anything else 404
  {"detail": "Not Found", "reference": ...}; a known path with another
  method 405 with Allow. No /docs, /redoc or /openapi.json.

Starlette's own TrustedHostMiddleware and CORSMiddleware are not used: they
answer in plain text, and CORSMiddleware sends Access-Control-Allow-
Credentials and -Expose-Headers to origins it does not allow.

Transport: uvicorn with TLS (the demo certificate), TLS 1.2 minimum, ECDHE
with AEAD suites. HTTP/1.1 only: uvicorn has no HTTP/2. One process, one
event loop (uvloop and httptools when installed, as uvicorn[standard] has).
Not expressed: the TLS group list (Python's ssl module sets one ECDH curve
at most; OpenSSL's defaults are used), JWT routes (not benchmarked).
"""

import argparse
import math
import re
import ssl
import time
import uuid

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from starlette.exceptions import HTTPException as StarletteHTTPException

SECURITY_HEADERS = [
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"content-security-policy",
     b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    (b"permissions-policy", b"geolocation=(), microphone=(), camera=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
# response headers the middleware owns: whatever a route set is replaced
OWNED = {name for name, _ in SECURITY_HEADERS} | {b"server", b"x-powered-by", b"vary", b"x-request-id"}

HOST_RE = re.compile(
    rb"(localhost|127\.0\.0\.1|\[::1\]|bulwark\.test|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+bulwark\.test)"
    rb"(:[0-9]{1,5})?", re.IGNORECASE)
REQUEST_ID_RE = re.compile(rb"[A-Za-z0-9._-]{1,64}")

CORS_ORIGINS = {b"https://app.bulwark.test", b"https://admin.bulwark.test"}
CORS_METHODS = {b"GET", b"POST", b"PUT", b"PATCH", b"DELETE"}
CORS_HEADERS = {b"authorization", b"content-type", b"x-request-id"}
CORS_ALLOW = [
    (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE"),
    (b"access-control-allow-headers", b"Authorization, Content-Type, X-Request-ID"),
    (b"access-control-max-age", b"600"),
]
CORS_EXPOSE = (b"access-control-expose-headers", b"X-Request-ID, Retry-After, RateLimit, RateLimit-Policy")

RATE_LIMIT_EXEMPT = {"/healthz"}


def single(headers, name):
    """The request's only value of a header; None when absent or repeated."""
    values = [v for k, v in headers if k == name]
    return values[0] if len(values) == 1 else None


def preflight_allowed(headers):
    method = single(headers, b"access-control-request-method")
    if method not in CORS_METHODS:
        return False
    for k, v in headers:
        if k == b"access-control-request-headers":
            for name in v.split(b","):
                name = name.strip(b" \t").lower()
                if name and name not in CORS_HEADERS:
                    return False
    return True


class Policy:
    """Request id, trusted hosts, security headers, CORS and the general
    rate limit around an ASGI app."""

    def __init__(self, app, general_limit):
        self.app = app
        self.limit = parse_limit(general_limit)
        self.storage = MemoryStorage()  # the limiter holds only a weak reference
        self.limiter = FixedWindowRateLimiter(self.storage)
        self.policy_value = ('"general";q=%d;w=%d' % (
            self.limit.amount, self.limit.get_expiry())).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        rid = single(headers, b"x-request-id")
        if rid is None or not REQUEST_ID_RE.fullmatch(rid):
            rid = str(uuid.uuid4()).encode()
        scope.setdefault("state", {})["request_id"] = rid.decode()
        origin = single(headers, b"origin")
        is_preflight = (scope["method"] == "OPTIONS" and origin is not None
                        and single(headers, b"access-control-request-method") is not None)
        allowed = origin if origin in CORS_ORIGINS else None
        extra = []  # rate-limit fields for this response

        async def send_with_policy(message):
            if message["type"] == "http.response.start":
                status = message["status"]
                out = [(k, v) for k, v in message.get("headers", [])
                       if k.lower() not in OWNED and not k.lower().startswith(b"access-control-")]
                out += SECURITY_HEADERS
                out.append((b"x-request-id", rid))
                out.append((b"vary", b"Origin"))
                if allowed is not None and not (is_preflight and status != 204):
                    out.append((b"access-control-allow-origin", allowed))
                    out.append((b"access-control-allow-credentials", b"true"))
                    out += CORS_ALLOW if is_preflight else [CORS_EXPOSE]
                out += extra
                message = dict(message, headers=out)
            await send(message)

        host = single(headers, b"host")
        if host is None or not HOST_RE.fullmatch(host):
            await error(400, "Invalid host header", rid)(scope, receive, send_with_policy)
            return
        if is_preflight:
            if allowed is not None and preflight_allowed(headers):
                await send_with_policy({"type": "http.response.start", "status": 204, "headers": []})
                await send_with_policy({"type": "http.response.body", "body": b""})
            else:
                await error(403, "CORS request not allowed", rid)(scope, receive, send_with_policy)
            return
        if scope["path"] not in RATE_LIMIT_EXEMPT:
            client = scope.get("client")
            key = client[0] if client else "-"
            admitted = self.limiter.hit(self.limit, "general", key)
            reset, remaining = self.limiter.get_window_stats(self.limit, "general", key)
            wait = max(0, math.ceil(reset - time.time()))
            extra += [(b"ratelimit-policy", self.policy_value),
                      (b"ratelimit", ('"general";r=%d;t=%d' % (remaining, wait)).encode())]
            if not admitted:
                extra.append((b"retry-after", str(max(1, wait)).encode()))
                await error(429, "Rate limit exceeded", rid)(scope, receive, send_with_policy)
                return
        await self.app(scope, receive, send_with_policy)


def error(status, detail, rid, headers=None):
    """The contract's error: {"detail", "reference"} with the request id."""
    reference = rid.decode() if isinstance(rid, bytes) else rid
    return JSONResponse({"detail": detail, "reference": reference}, status_code=status, headers=headers)


app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.exception_handler(StarletteHTTPException)
async def http_error(request: Request, exc: StarletteHTTPException):
    return error(exc.status_code, exc.detail, request.state.request_id, getattr(exc, "headers", None))


@app.exception_handler(Exception)
async def internal_error(request: Request, exc: Exception):
    return error(500, "Internal Server Error", request.state.request_id)


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--general-limit", default="100/minute",
                    help="the general limit per client address (limits' notation)")
    args = ap.parse_args()
    config = uvicorn.Config(Policy(app, args.general_limit), host=args.host, port=args.port,
                            ssl_certfile=args.cert, ssl_keyfile=args.key,
                            ssl_ciphers="ECDHE+AESGCM:ECDHE+CHACHA20",
                            server_header=False, workers=1, log_level="info",
                            # X-Forwarded-For counts from no proxy (uvicorn's
                            # default trusts it from 127.0.0.1)
                            proxy_headers=False)
    config.load()
    config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
