#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/.

    tests/fuzz/make-corpus.py [OUTDIR]

Every seed is made here, from our own knowledge of the inputs (no third-party
corpus). The seeds are committed; rerunning the script rewrites them, and
only the signatures of the signed tokens change (ECDSA's nonce is random in
Debian 12's python3-cryptography).

Tokens are signed with the fuzz key (tests/fuzz/fuzz_key.h: the P-256 scalar
is SHA-256 of a public label), so the HTTP targets accept them and the JWT
target gets past the signature.
"""

import base64
import hashlib
import json
import os
import struct
import sys

import h2.config
import h2.connection
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# tests/fuzz/fuzz_key.h
FUZZ_KEY_LABEL = b"bulwark fuzz signing key: public, for tests only"
FUZZ_KEY_KID = "fuzz-1"
# the harness's user (tests/fuzz/http_harness.c)
FUZZ_USER, FUZZ_PASSWORD = "fuzz", "fuzz-password"
# the last second NumericDate allows (app/crypto/jwt.h): seed tokens never expire
FAR_FUTURE = 253402300799
ISSUED = 1700000000


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fuzz_key():
    d = int.from_bytes(hashlib.sha256(FUZZ_KEY_LABEL).digest(), "big")
    return ec.derive_private_key(d, ec.SECP256R1())


def sign(header, claims, key=None):
    """A compact JWS of two JSON texts (bytes or objects), ES256 r||s."""
    def text(v):
        return v if isinstance(v, bytes) else json.dumps(v, separators=(",", ":")).encode()
    signing_input = (b64url(text(header)) + "." + b64url(text(claims))).encode()
    der = (key or fuzz_key()).sign(signing_input, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input.decode() + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


HEADER = {"alg": "ES256", "typ": "JWT", "kid": FUZZ_KEY_KID}


def claims(sub=FUZZ_USER, scope="profile:read items:read items:write admin", **extra):
    c = {"iss": "bulwark", "aud": "bulwark-api", "sub": sub, "scope": scope, "iat": ISSUED,
         "nbf": ISSUED, "exp": FAR_FUTURE, "jti": "seed-0001"}
    c.update(extra)
    return c


def token(**kw):
    return sign(HEADER, claims(**kw))


# --- policy --------------------------------------------------------------------
# policy/*.yaml and policy/examples are seeds too (tests/fuzz/run.sh adds them).

def policy_seeds():
    minimal = b"version: 1\nhosts: [localhost]\n"
    return {
        "minimal.yaml": minimal,
        "development.yaml": minimal + b"environment: development\n",
        "proxies.yaml": minimal + b"trusted_proxies: [10.0.0.0/8, fd00::/8, 192.0.2.1]\n",
        "limits.yaml": minimal + b"limits:\n  max_body: 64KiB\n  header_timeout: 250ms\n",
        "ratelimits.yaml": minimal + (b"rate_limits:\n  limits:\n    g: {requests: 10, window: 1m, global: true}\n"
                                      b"    k: {requests: 5, window: 1s, key: \"header:X-Api-Key\"}\n"),
        "routes.yaml": minimal + (b"routes:\n  - path: /items/{id}\n    methods: [GET, DELETE]\n"
                                   b"    proxy: {upstream: \"http://127.0.0.1:8000\"}\n"),
        "flow-style.yaml": b"{version: 1, hosts: ['*.bulwark.test', '[::1]'], cors: {allow_origins: []}}\n",
        "anchor.yaml": b"version: 1\nhosts: &h [localhost]\nx: *h\n",
        "deep.yaml": b"version: 1\nhosts: [localhost]\nheaders: {set: {A: [[[[[[[[[[[[[1]]]]]]]]]]]]]}}\n",
    }


# --- jwt -------------------------------------------------------------------------
# raw tokens; 'S' flags header NUL claims (signed by the target); 'M' sub NUL scope

def jwt_seeds():
    c = claims()
    seeds = {
        "valid": token(),
        "valid-no-kid": sign({"alg": "ES256", "typ": "JWT"}, c),
        "valid-at-jwt": sign({"alg": "ES256", "typ": "at+jwt", "kid": FUZZ_KEY_KID}, c),
        "expired": token(exp=ISSUED + 60),
        "not-yet": sign(HEADER, claims(nbf=FAR_FUTURE - 10)),
        "aud-list": sign(HEADER, claims(aud=["other", "bulwark-api"])),
        "alg-none": b64url(b'{"alg":"none"}') + "." + b64url(json.dumps(c).encode()) + ".",
        "alg-hs256": b64url(b'{"alg":"HS256","kid":"fuzz-1"}') + "." + b64url(json.dumps(c).encode()) + "." + b64url(b"x" * 32),
        "jku": sign({"alg": "ES256", "kid": FUZZ_KEY_KID, "jku": "https://evil.test/k"}, c),
        "crit": sign({"alg": "ES256", "kid": FUZZ_KEY_KID, "crit": ["exp"]}, c),
        "duplicate-alg": sign(b'{"alg":"ES256","alg":"none","kid":"fuzz-1"}', c),
        "zero-signature": sign(HEADER, c).rsplit(".", 1)[0] + "." + b64url(bytes(64)),
        "two-segments": "eyJhbGciOiJFUzI1NiJ9.e30",
        "padding": sign(HEADER, c) + "==",
    }
    out = {name: t.encode() for name, t in seeds.items()}
    out["signed-claims"] = b"S\x00" + json.dumps(HEADER).encode() + b"\x00" + json.dumps(c).encode()
    out["signed-typ-required"] = b"S\x03" + b'{"alg":"ES256","typ":"at+jwt","kid":"fuzz-1"}\x00' + json.dumps(c).encode()
    out["signed-odd-claims"] = (b"S\x00" + json.dumps(HEADER).encode() + b"\x00" +
                                b'{"iss":"bulwark","aud":"bulwark-api","sub":"a b","exp":1e300,"scope":"a  b"}')
    out["mint"] = b"Mfuzz\x00profile:read items:read"
    out["mint-empty-scope"] = b"Malice\x00"
    return out


# --- json_schema ---------------------------------------------------------------
# first byte: 0 login, 1 password_reset, 2 item_create

def json_schema_seeds():
    return {
        "login": b"\x00" + json.dumps({"username": "alice", "password": "secret"}).encode(),
        "login-extra": b"\x00" + b'{"username":"a","password":"b","admin":true}',
        "login-dup": b"\x00" + b'{"username":"a","username":"b","password":"c"}',
        "reset": b"\x01" + b'{"email":"user@example.test"}',
        "reset-two-at": b"\x01" + b'{"email":"a@b@c"}',
        "item": b"\x02" + b'{"name":"\\u00e9t\\u00e9"}',
        "item-empty": b"\x02" + b'{"name":""}',
        "item-nested": b"\x02" + b'{"name":[{"a":[1,2.5e3,null,true]}]}',
        "utf8": b"\x02" + '{"name":"\u65e5\u672c"}'.encode(),
        "nul": b"\x00" + b'{"username":"a\\u0000b","password":"c"}',
    }


# --- client_addr -----------------------------------------------------------------
# byte 0: peer kind (0 IPv4, 1 IPv6, 2 IPv4-mapped, 3 none) and route; 1..16
# address; 17 IPv6 prefix; then X-Forwarded-For values split at '\n'

def addr_input(kind, addr, prefix, fields):
    return bytes([kind]) + addr.ljust(16, b"\0") + bytes([prefix]) + b"\n".join(fields)


def client_addr_seeds():
    lo = bytes([127, 0, 0, 1])
    fd = bytes([0xfd] + [0] * 14 + [1])
    return {
        "untrusted": addr_input(0, bytes([203, 0, 113, 7]), 64, [b"198.51.100.1"]),
        "trusted-one-hop": addr_input(0, lo, 64, [b"198.51.100.1"]),
        "trusted-chain": addr_input(0, lo, 56, [b"198.51.100.1, 10.1.2.3,192.168.1.9"]),
        "two-fields": addr_input(4, lo, 48, [b"2001:db8::5", b"10.0.0.1"]),
        "mapped-hop": addr_input(0, lo, 64, [b"::ffff:198.51.100.2"]),
        "v6-peer": addr_input(1, fd, 128, [b"2001:db8:1:2:3:4:5:6"]),
        "mapped-peer": addr_input(2, lo, 64, [b"203.0.113.9"]),
        "bad-hop": addr_input(0, lo, 64, [b"198.51.100.1, not-an-address, 10.0.0.2"]),
        "header-key": addr_input(8, lo, 64, [b"api-key-1234"]),
        "login-route": addr_input(0, bytes([10, 9, 8, 7]), 64, [b"203.0.113.1"]),
    }


# --- http1 ---------------------------------------------------------------------------

def http1_request(method, path, headers=(), body=None, host="localhost"):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host]
    lines += ["%s: %s" % h for h in headers]
    if body is not None:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def http1_seeds():
    bearer = ("Authorization", "Bearer " + token())
    login = json.dumps({"username": FUZZ_USER, "password": FUZZ_PASSWORD}).encode()
    json_ct = ("Content-Type", "application/json")
    return {
        "healthz": http1_request("GET", "/healthz"),
        "root": http1_request("GET", "/", [("X-Request-ID", "seed-request-1")]),
        "notfound": http1_request("GET", "/docs?x=1"),
        "method-not-allowed": http1_request("DELETE", "/healthz"),
        "bad-host": http1_request("GET", "/", host="evil.test"),
        "login": http1_request("POST", "/api/auth/login", [json_ct, ("X-Forwarded-For", "203.0.113.10")], login),
        "login-wrong": http1_request("POST", "/api/auth/login", [json_ct, ("X-Forwarded-For", "203.0.113.11")],
                                     b'{"username":"fuzz","password":"no"}'),
        "login-invalid-body": http1_request("POST", "/api/auth/login", [json_ct], b'{"username":1}'),
        "reset": http1_request("POST", "/api/auth/password-reset", [json_ct, ("X-Forwarded-For", "2001:db8::7")],
                               b'{"email":"fuzz@bulwark.test"}'),
        "users-me": http1_request("GET", "/api/users/me", [bearer]),
        "item-get": http1_request("GET", "/api/items/1", [bearer]),
        "item-create": http1_request("POST", "/api/items", [bearer, json_ct], b'{"name":"seed"}'),
        "admin-delete": http1_request("DELETE", "/api/admin/users/alice", [bearer]),
        "bad-token": http1_request("GET", "/api/users/me", [("Authorization", "Bearer e30.e30.e30")]),
        "jwks": http1_request("GET", "/.well-known/jwks.json"),
        "preflight": http1_request("OPTIONS", "/api/items", [("Origin", "https://app.bulwark.test"),
                                                             ("Access-Control-Request-Method", "POST"),
                                                             ("Access-Control-Request-Headers", "authorization,content-type")]),
        "cors-get": http1_request("GET", "/healthz", [("Origin", "https://admin.bulwark.test")]),
        "api-key-limit": http1_request("GET", "/api/users/me", [("X-Api-Key", "k1"), bearer]),
        "chunked": (b"POST /api/items HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    b"Authorization: Bearer " + token().encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\n{\"nam\r\n8\r\ne\":\"ab\"}\r\n0\r\n\r\n"),
        "cl-and-te": (b"POST /api/items HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "pipelined": http1_request("GET", "/healthz") + http1_request("GET", "/nope") + http1_request("HEAD", "/"),
        "forwarded-chain": http1_request("GET", "/healthz", [("X-Forwarded-For", "198.51.100.1, 127.0.0.5"),
                                                             ("X-Forwarded-For", "::ffff:10.0.0.1")]),
        "http10": b"GET / HTTP/1.0\r\n\r\n",
        "long-header": http1_request("GET", "/", [("X-Long", "a" * 3000)]),
        "expect": http1_request("POST", "/api/items", [bearer, json_ct, ("Expect", "100-continue")], b'{"name":"x"}'),
    }


# --- http2 -----------------------------------------------------------------------------
# what follows the client preface (the harness sends it)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_connection():
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    return conn


def h2_request(conn, method, path, headers=(), body=None, authority="localhost"):
    sid = conn.get_next_available_stream_id()
    hdrs = [(":method", method), (":scheme", "https"), (":authority", authority), (":path", path)]
    hdrs += [(k.lower(), v) for k, v in headers]
    if body is not None:
        hdrs.append(("content-length", str(len(body))))
    conn.send_headers(sid, hdrs, end_stream=body is None)
    if body is not None:
        conn.send_data(sid, body, end_stream=True)
    return sid


def h2_bytes(conn):
    data = conn.data_to_send()
    assert data.startswith(PREFACE)
    return data[len(PREFACE):]


def frame(ftype, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def http2_seeds():
    out = {}
    bearer = ("authorization", "Bearer " + token())

    c = h2_connection()
    h2_request(c, "GET", "/healthz")
    out["healthz"] = h2_bytes(c)

    c = h2_connection()
    h2_request(c, "GET", "/api/users/me", [bearer])
    h2_request(c, "POST", "/api/items", [bearer, ("content-type", "application/json")], b'{"name":"h2"}')
    h2_request(c, "GET", "/api/items/1", [bearer])
    out["authenticated"] = h2_bytes(c)

    c = h2_connection()
    h2_request(c, "POST", "/api/auth/login", [("content-type", "application/json"),
                                              ("x-forwarded-for", "203.0.113.20")],
               json.dumps({"username": FUZZ_USER, "password": FUZZ_PASSWORD}).encode())
    out["login"] = h2_bytes(c)

    c = h2_connection()
    sid = h2_request(c, "POST", "/api/auth/login", [("content-type", "application/json")], b'{"username":"a","password":"b"}')
    c.reset_stream(sid)
    out["login-reset"] = h2_bytes(c)

    c = h2_connection()
    h2_request(c, "OPTIONS", "/api/items", [("origin", "https://app.bulwark.test"),
                                            ("access-control-request-method", "POST")])
    h2_request(c, "GET", "/", authority="evil.test")
    h2_request(c, "GET", "/nope?token=x")
    out["cors-host-404"] = h2_bytes(c)

    c = h2_connection()
    c.ping(b"12345678")
    c.increment_flow_control_window(65535)
    c.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: 0,
                       h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 10})
    h2_request(c, "GET", "/healthz")
    out["control-frames"] = h2_bytes(c)

    # HEADERS without END_HEADERS, then CONTINUATION frames (hand-built:
    # the library would not split a block this small)
    c = h2_connection()
    settings = h2_bytes(c)
    block = c.encoder.encode([(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                              (":path", "/healthz"), ("x-pad", "p" * 40)])
    half = len(block) // 2
    out["continuation"] = (settings + frame(0x1, 0x1, 1, block[:half]) + frame(0x9, 0x0, 1, b"") +
                           frame(0x9, 0x4, 1, block[half:]))

    # a priority frame, a stream reset before its headers, GOAWAY
    out["priority-goaway"] = (settings + frame(0x2, 0x0, 3, struct.pack(">IB", 1, 16)) +
                              frame(0x3, 0x0, 5, struct.pack(">I", 8)) + frame(0x7, 0x0, 0, struct.pack(">II", 0, 0)))
    return out


TARGETS = {
    "policy": policy_seeds,
    "jwt": jwt_seeds,
    "json_schema": json_schema_seeds,
    "client_addr": client_addr_seeds,
    "http1": http1_seeds,
    "http2": http2_seeds,
}


def main(argv):
    outdir = argv[1] if len(argv) > 1 else os.path.join(HERE, "corpus")
    for target, make in TARGETS.items():
        d = os.path.join(outdir, target)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.unlink(os.path.join(d, old))
        for name, data in sorted(make().items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
        print("%-12s %d seeds" % (target, len(os.listdir(d))))


if __name__ == "__main__":
    main(sys.argv)
