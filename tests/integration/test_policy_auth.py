"""Bearer tokens on policy routes (DEFAULT-POLICY.md, "Tokens"): every kind
of bad token is a 401 with `WWW-Authenticate: Bearer` and the generic JSON
error, a valid token without the route's scope is a 403, over HTTP/1.1 and
HTTP/2. The attack classes are RFC 8725's: `alg` none, HS256 keyed with the
published JWKS key, a foreign key, an unknown `kid`, keys embedded in the
header (`jwk`, `jku`), the all-zero ECDSA signature, dates and audiences.
"""

import base64
import hashlib
import hmac
import json
import os
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import module_server
from demo_client import (AUDIENCE, ISSUER, KID, POLICY, assert_error, b64url, b64url_json, call, claims, header,
                         login, mint, public_jwk, request_h1, request_h2, signing_key, start_server)

pytestmark = pytest.mark.integration

ME = "/api/users/me"  # scope profile:read
LEEWAY_S = 30


@pytest.fixture(scope="module")
def server(request, demo):
    yield from module_server(request, demo, lambda binary: start_server(binary, demo))


def now():
    return int(time.time())


def foreign_key():
    return ec.generate_private_key(ec.SECP256R1())


def hs256_with_jwks_key():
    """The key-confusion attack: HS256 keyed with the server's public key
    (its PEM, as an attacker fetches it), hoping the verifier uses the
    configured key as an HMAC secret."""
    pem = signing_key().public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = (b64url_json(header(alg="HS256")) + "." + b64url_json(claims())).encode()
    return signing_input.decode() + "." + b64url(hmac.new(pem, signing_input, hashlib.sha256).digest())


def alg_none():
    return b64url_json({"alg": "none", "typ": "JWT"}) + "." + b64url_json(claims()) + "."


def embedded_jwk():
    k = foreign_key()
    return mint(hdr=header(jwk=public_jwk(k)), key=k)


def tampered_payload():
    good = mint()
    h, _, s = good.split(".")
    return h + "." + b64url_json(claims(sub="admin", scope="profile:read admin")) + "." + s


# name -> a function making the Authorization header value (None: no header)
REJECTED = {
    "missing": lambda: None,
    "empty bearer": lambda: "Bearer ",
    "not bearer scheme": lambda: "Basic YWxpY2U6cGFzc3dvcmQ=",
    "malformed token": lambda: "Bearer not-a-jwt",
    "two segments": lambda: "Bearer " + ".".join(mint().split(".")[:2]),
    "junk after token": lambda: "Bearer " + mint() + " extra",
    "alg none": lambda: "Bearer " + alg_none(),
    "alg none signed": lambda: "Bearer " + mint(hdr=header(alg="none")),
    "HS256 with the JWKS key": lambda: "Bearer " + hs256_with_jwks_key(),
    "ES384 header": lambda: "Bearer " + mint(hdr=header(alg="ES384")),
    "foreign key": lambda: "Bearer " + mint(key=foreign_key()),
    "unknown kid": lambda: "Bearer " + mint(hdr=header(kid="bulwark-2")),
    "embedded jwk": lambda: "Bearer " + embedded_jwk(),
    "jku": lambda: "Bearer " + mint(hdr=header(jku="https://attacker.example/jwks.json")),
    "x5u": lambda: "Bearer " + mint(hdr=header(x5u="https://attacker.example/cert.pem")),
    "expired": lambda: "Bearer " + mint(payload=claims(iat=now() - 3600, nbf=now() - 3600, exp=now() - 1800)),
    "expired past leeway": lambda: "Bearer " + mint(payload=claims(exp=now() - LEEWAY_S - 30)),
    "missing exp": lambda: "Bearer " + mint(payload=claims(exp=None)),
    "future nbf": lambda: "Bearer " + mint(payload=claims(nbf=now() + 3600)),
    "wrong iss": lambda: "Bearer " + mint(payload=claims(iss="evil")),
    "missing iss": lambda: "Bearer " + mint(payload=claims(iss=None)),
    "wrong aud": lambda: "Bearer " + mint(payload=claims(aud="other-api")),
    "missing aud": lambda: "Bearer " + mint(payload=claims(aud=None)),
    "unknown crit": lambda: "Bearer " + mint(hdr=header(crit=["exp-v2"], **{"exp-v2": 1})),
    "zero signature": lambda: "Bearer " + mint(signature=bytes(64)),
    "DER signature": lambda: "Bearer " + mint(signature=b"\x30\x44" + bytes(68)),
    "tampered payload": lambda: "Bearer " + tampered_payload(),
    "wrong typ": lambda: "Bearer " + mint(hdr=header(typ="JOSE+JSON")),
}


@pytest.mark.parametrize("proto", ["h1", "h2"])
@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_token_is_401_with_bearer_challenge(server, demo, proto, case):
    value = REJECTED[case]()
    headers = [] if value is None else [("Authorization", value)]
    r = call(server, demo, proto, "GET", ME, headers=headers)
    challenge = r.header("www-authenticate")
    assert challenge is not None and challenge.split(" ")[0] == "Bearer", r
    if value is None:
        assert_error(r, 401, "Not authenticated")
        assert challenge == "Bearer", r  # RFC 6750 §3.1: no error code without credentials
    else:
        assert_error(r, 401, "Invalid token")
        assert 'error="invalid_token"' in challenge, r
    assert b"alice" not in r.body and b"scope" not in r.body, r


@pytest.mark.parametrize("proto", ["h1", "h2"])
def test_two_authorization_headers_are_refused(server, demo, proto):
    hdrs = [("Authorization", "Bearer " + mint()), ("Authorization", "Bearer " + mint())]
    r = (request_h1 if proto == "h1" else request_h2)(server, demo, "GET", ME, hdrs)
    assert_error(r, 401, "Invalid token")


@pytest.mark.parametrize("proto", ["h1", "h2"])
@pytest.mark.parametrize("case", ["minted", "lowercase scheme", "within leeway", "nbf within leeway", "aud list"])
def test_valid_tokens_are_accepted(server, demo, proto, case):
    """The controls: without them every 401 above could come from a server
    that refuses everything."""
    token, scheme = mint(), "Bearer"
    if case == "lowercase scheme":
        scheme = "bearer"
    elif case == "within leeway":
        token = mint(payload=claims(iat=now() - 960, nbf=now() - 960, exp=now() - LEEWAY_S // 3))
    elif case == "nbf within leeway":
        token = mint(payload=claims(nbf=now() + LEEWAY_S // 3))
    elif case == "aud list":
        token = mint(payload=claims(aud=["other", AUDIENCE]))
    r = call(server, demo, proto, "GET", ME, headers=[("Authorization", scheme + " " + token)])
    assert r.status == 200, r
    assert r.json() == {"username": "alice", "scopes": ["profile:read", "items:read", "items:write"]}


@pytest.mark.parametrize("proto", ["h1", "h2"])
@pytest.mark.parametrize("method,path,scope", [
    ("GET", ME, "items:read"),
    ("GET", "/api/items/1", "profile:read"),
    ("POST", "/api/items", "items:read"),
    ("DELETE", "/api/admin/users/bob", "profile:read items:read items:write"),
])
def test_valid_token_without_the_scope_is_403(server, demo, proto, method, path, scope):
    token = mint(payload=claims(scope=scope))
    body = {"name": "x"} if method == "POST" else None
    r = call(server, demo, proto, method, path, token=token, body=body)
    assert_error(r, 403)
    assert "insufficient_scope" in (r.header("www-authenticate") or ""), r


@pytest.mark.parametrize("proto", ["h1", "h2"])
def test_scope_names_match_exactly(server, demo, proto):
    for scope in ("admin:all", "Admin", "adm", "profile:read,admin"):
        token = mint(payload=claims(sub="admin", scope=scope))
        r = call(server, demo, proto, "DELETE", "/api/admin/users/bob", token=token)
        assert_error(r, 403)


def test_issued_token_verifies_and_carries_the_policy_claims(server, demo):
    token = login(server, demo, "bob")
    hdr, payload, sig = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)
    h = json.loads(base64.urlsafe_b64decode(pad(hdr)))
    c = json.loads(base64.urlsafe_b64decode(pad(payload)))
    assert h == {"alg": "ES256", "typ": "JWT", "kid": KID}, h
    assert c["iss"] == ISSUER and c["aud"] == AUDIENCE and c["sub"] == "bob", c
    assert c["exp"] - c["iat"] == 900, c
    assert len(base64.urlsafe_b64decode(pad(sig))) == 64
    r = call(server, demo, "h2", "GET", ME, token=token)
    assert r.status == 200 and r.json()["username"] == "bob", r


def test_rejections_are_logged_with_a_reason_and_never_the_token(server, demo):
    token = mint(payload=claims(exp=now() - 3600, iat=now() - 7200, nbf=now() - 7200))
    r = call(server, demo, "h1", "GET", ME, token=token, headers=[("X-Request-ID", "auth-expired-1")])
    assert_error(r, 401)
    rec = server.wait_record(lambda x: x.get("event") == "auth_denied" and x.get("request_id") == "auth-expired-1")
    assert rec is not None and rec["reason"] == "expired" and rec["status"] == 401, rec
    time.sleep(0.2)
    out = server.stdout_text() + server.stderr
    assert token not in out and token.split(".")[2] not in out


# --- owner rules on non-builtin routes ------------------------------------------
# (builtins decide ownership themselves: the items tests in test_demo_api.py)

OWNER_ROUTES = """
  - path: /api/profiles/{user}/card
    methods: [GET]
    scopes: ["profile:read"]
    owner: {param: user, claim: sub}
    static:
      content_type: application/json
      inline: '{"card": true}'

  - path: /api/tenants/{tenant}/report
    methods: [GET]
    scopes: ["profile:read"]
    owner: {param: tenant, claim: tenant}
    static:
      content_type: application/json
      inline: '{"report": true}'
"""


@pytest.fixture(scope="module")
def owner_server(bulwark_bin, demo, tmp_path_factory):
    path = os.path.join(str(tmp_path_factory.mktemp("policy")), "owner.yaml")
    with open(POLICY) as f, open(path, "w") as out:
        out.write(f.read().rstrip("\n") + "\n" + OWNER_ROUTES)
    s = start_server(bulwark_bin, demo, policy=path)
    yield s
    s.stop()


def owner_denied(server, request_id):
    rec = server.wait_record(lambda x: x.get("event") == "auth_denied" and x.get("request_id") == request_id,
                             timeout=1)
    return rec is not None and rec.get("reason") == "owner_mismatch"


@pytest.mark.parametrize("proto", ["h1", "h2"])
@pytest.mark.parametrize("path,token_claims,allowed", [
    ("/api/profiles/alice/card", {}, True),
    ("/api/profiles/bob/card", {}, False),
    ("/api/profiles/alice2/card", {}, False),
    ("/api/tenants/acme/report", {"tenant": "acme"}, True),
    ("/api/tenants/acme/report", {"tenant": "other"}, False),
    ("/api/tenants/acme/report", {}, False),
    ("/api/tenants/acme/report", {"tenant": 7}, False),
])
def test_owner_rule_param_must_equal_the_claim(owner_server, demo, proto, path, token_claims, allowed):
    rid = "owner-%s-%d" % (proto, abs(hash((path, json.dumps(token_claims)))) % 10 ** 9)
    token = mint(payload=claims(**token_claims))
    r = call(owner_server, demo, proto, "GET", path, token=token, headers=[("X-Request-ID", rid)])
    if allowed:
        assert not owner_denied(owner_server, rid), r
        assert r.status != 401 and r.status != 403, r
    else:
        assert_error(r, 404, "Not Found")
        assert owner_denied(owner_server, rid), r
