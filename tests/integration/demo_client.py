"""Clients and token tools for the tests of authentication and the demo API
(test_policy_auth.py, test_demo_api.py).

- A server started with the default policy and the demo secrets.
- One request over HTTP/1.1 (http.client) or HTTP/2 (python3-h2), both over
  TLS verified against build/demo/ca.pem, from a chosen loopback source
  address: every test client gets an address of its own in 127.77.0.0/16, so
  the per-client rate limits of the default policy (login 5/min, general
  100/min) count each client apart, as they would count real clients.
- ES256 tokens minted with python3-cryptography from the demo signing key,
  with any header and claims a test wants.
"""

import base64
import http.client
import itertools
import json
import os
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from conftest import DEMO, REPO, TIME_SCALE, Server, pace

ISSUER = "bulwark"
AUDIENCE = "bulwark-api"
KID = "bulwark-1"
TIMEOUT_S = 30 * TIME_SCALE

POLICY = os.path.join(REPO, "policy", "default.yaml")
SECRETS = os.path.join(DEMO, "secrets")


def policy_args(policy=None):
    """How `bulwark serve` is given a policy file (default: the default
    policy) and the demo secrets volume. BULWARK_POLICY_ARGS overrides for
    the default policy (split on spaces)."""
    override = os.environ.get("BULWARK_POLICY_ARGS")
    if override is not None and policy is None:
        return override.split()
    return ["--policy", policy or POLICY, "--secrets", os.path.abspath(SECRETS)]


def start_server(bulwark_bin, demo, threads=2, policy=None):
    return Server(bulwark_bin, demo, http_hosts=(), threads=threads, extra_args=policy_args(policy)).start()


# --- loopback source addresses ---------------------------------------------

_sources = itertools.count(int.from_bytes(os.urandom(2), "big") % 60000 + 1)


def new_source():
    n = next(_sources) % 65534 + 1
    return "127.77.%d.%d" % (n >> 8, n & 0xff)


# --- requests ----------------------------------------------------------------

class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> [values]
        self.body = body

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[-1] if v else None

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.headers, self.body[:300])


def tls_context(demo, alpn):
    ctx = ssl.create_default_context(cafile=demo.ca)
    ctx.set_alpn_protocols([alpn])
    return ctx


def connect(server, demo, alpn, source=None):
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S,
                                   source_address=(source or new_source(), 0))
    sock = tls_context(demo, alpn).wrap_socket(raw, server_hostname="localhost")
    assert sock.selected_alpn_protocol() == alpn, sock.selected_alpn_protocol()
    return sock


def request_h1(server, demo, method, path, headers=(), body=None, source=None):
    pace(path)
    conn = http.client.HTTPSConnection("localhost", server.port, timeout=TIMEOUT_S,
                                       context=tls_context(demo, "http/1.1"),
                                       source_address=(source or new_source(), 0))
    try:
        conn.putrequest(method, path)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        hdrs = {}
        for k, v in r.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        return Reply(r.status, hdrs, r.read())
    finally:
        conn.close()


def request_h2(server, demo, method, path, headers=(), body=None, source=None):
    pace(path)
    sock = connect(server, demo, "h2", source)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    try:
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "https"), (":authority", "localhost"),
                (":path", path)] + [(k.lower(), v) for k, v in headers]
        if body is not None:
            hdrs.append(("content-length", str(len(body))))
        conn.send_headers(sid, hdrs, end_stream=body is None)
        if body is not None:
            conn.send_data(sid, body, end_stream=True)
        sock.sendall(conn.data_to_send())
        return read_h2_stream(sock, conn, sid)
    finally:
        sock.close()


def read_h2_stream(sock, conn, sid):
    status, got, data = 0, {}, b""
    while True:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed before the response ended"
        for ev in conn.receive_data(chunk):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                for k, v in ev.headers:
                    if k == ":status":
                        status = int(v)
                    else:
                        got.setdefault(k, []).append(v)
            elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                data += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                return Reply(status, got, data)
            elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                pytest.fail("the server ended the exchange: %r" % ev)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)


PROTOCOLS = {"h1": request_h1, "h2": request_h2}


def call(server, demo, proto, method, path, token=None, body=None, headers=(), source=None):
    hdrs = list(headers)
    if token is not None:
        hdrs.append(("Authorization", "Bearer " + token))
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.append(("Content-Type", "application/json"))
    return PROTOCOLS[proto](server, demo, method, path, hdrs, data, source)


def assert_error(r, status, detail=None):
    """The appliance's error shape: {"detail", "reference"} with the
    reference equal to X-Request-ID."""
    assert r.status == status, r
    body = r.json()
    assert set(body) == {"detail", "reference"}, body
    assert body["reference"] == r.header("x-request-id"), r
    if detail is not None:
        assert body["detail"] == detail, body
    return body


# --- the demo identity -------------------------------------------------------

def credentials():
    with open(os.path.join(DEMO, "credentials.json")) as f:
        return json.load(f)


def signing_key():
    with open(os.path.join(DEMO, "jwt-signing-key.pem"), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def login(server, demo, user, proto="h1", source=None):
    r = call(server, demo, proto, "POST", "/api/auth/login",
             body={"username": user, "password": credentials()[user]}, source=source)
    assert r.status == 200, r
    return r.json()["access_token"]


# --- minting -----------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def es256_signature(key, signing_input):
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def claims(**over):
    now = int(time.time())
    c = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "nbf": now, "exp": now + 900,
         "scope": "profile:read items:read items:write"}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def header(**over):
    h = {"alg": "ES256", "typ": "JWT", "kid": KID}
    for k, v in over.items():
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    return h


def mint(hdr=None, payload=None, key=None, signature=None):
    """A compact JWS: header and payload as given (defaults: a valid token),
    signed ES256 with key (default: the demo key), or with signature bytes
    as given."""
    signing_input = (b64url_json(hdr or header()) + "." + b64url_json(payload or claims())).encode()
    if signature is None:
        signature = es256_signature(key or signing_key(), signing_input)
    return signing_input.decode() + "." + b64url(signature)


def public_jwk(key):
    nums = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64url(nums.x.to_bytes(32, "big")),
            "y": b64url(nums.y.to_bytes(32, "big"))}
