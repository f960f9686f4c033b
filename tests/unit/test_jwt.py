"""JWT verification, signing and JWKS of app/crypto/, through the jwt_tool
test driver ($BULWARK_JWT_TOOL, else <repo>/build/tests/jwt_tool).

Attack tokens are minted here with python3-cryptography (Debian package), so
that every refusal is shown against a token a careless verifier would accept:
the signatures are real unless the test is about the signature. Reasons are
the stable names of bulwark_jwt_reason_name(); a service answers all of them
with the same 401.
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                            encode_dss_signature)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
TOOL = Path(os.environ.get("BULWARK_JWT_TOOL", REPO / "build" / "tests" / "jwt_tool"))

ISS = "bulwark"
AUD = "bulwark-api"
NOW = 1_700_000_000
LEEWAY = 30
# P-256 group order (SEC 2 §2.4.2)
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
TOKEN_MAX = 8192
HEADER_MAX = 1024


# --- helpers ---------------------------------------------------------------------

def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def es256_raw(priv, data):
    r, s = decode_dss_signature(priv.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def jwk_thumbprint(pub):
    """RFC 7638 §3.2, computed independently of the C code."""
    nums = pub.public_numbers()
    doc = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (
        b64u(nums.x.to_bytes(32, "big")), b64u(nums.y.to_bytes(32, "big")))
    return b64u(hashlib.sha256(doc.encode()).digest())


class Key:
    """A P-256 key written in the three PEM forms the loader accepts."""

    def __init__(self, directory, name):
        self.priv = ec.generate_private_key(ec.SECP256R1())
        self.pub = self.priv.public_key()
        self.sec1 = directory / (name + ".pem")
        self.pkcs8 = directory / (name + "-pkcs8.pem")
        self.public = directory / (name + "-pub.pem")
        self.sec1.write_bytes(self.priv.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
        self.pkcs8.write_bytes(self.priv.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.public.write_bytes(self.pub.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.kid = jwk_thumbprint(self.pub)


def claims(**over):
    c = {"iss": ISS, "aud": AUD, "sub": "alice", "scope": "profile:read items:read",
         "iat": NOW - 5, "nbf": NOW - 5, "exp": NOW + 900, "jti": "j-1"}
    for k, v in over.items():
        if v is DROP:
            c.pop(k, None)
        else:
            c[k] = v
    return c


DROP = object()


def mint(key, header=None, payload=None, raw_header=None, raw_payload=None, sig=None):
    """A compact JWS. The header defaults to ES256 with key's kid; raw_*
    give exact JSON text; sig: bytes, or a function of the signing input."""
    if raw_header is None:
        raw_header = compact(header if header is not None else {"alg": "ES256", "typ": "JWT", "kid": key.kid})
    if raw_payload is None:
        raw_payload = compact(payload if payload is not None else claims())
    signing_input = (b64u(raw_header) + "." + b64u(raw_payload)).encode()
    if sig is None:
        sig = es256_raw(key.priv, signing_input)
    elif callable(sig):
        sig = sig(signing_input)
    return signing_input.decode() + "." + b64u(sig)


def tool(*args, timeout=30):
    if not TOOL.is_file():
        pytest.fail("jwt_tool not found at %s: build it (make binaries) or set BULWARK_JWT_TOOL" % TOOL,
                    pytrace=False)
    return subprocess.run([str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def verify(token, *keys, extra=(), now=NOW, leeway=LEEWAY):
    args = ["verify"]
    for k in keys:
        if isinstance(k, tuple):
            args += ["--key", k[0], "--kid", k[1]]
        else:
            args += ["--key", k]
    args += ["--iss", ISS, "--aud", AUD, "--leeway", leeway, "--now", now, *extra, token]
    return tool(*args)


def assert_ok(r, sub="alice", scopes="profile:read,items:read"):
    assert r.returncode == 0, r
    assert r.stdout == "OK sub=%s scopes=%s\n" % (sub, scopes), r


def assert_reject(r, reason):
    assert r.returncode == 1, r
    assert r.stdout == "REJECT %s\n" % reason, r


@pytest.fixture(scope="module")
def keydir(tmp_path_factory):
    return tmp_path_factory.mktemp("jwtkeys")


@pytest.fixture(scope="module")
def key(keydir):
    return Key(keydir, "ours")


@pytest.fixture(scope="module")
def other(keydir):
    return Key(keydir, "foreign")


# --- the good path ---------------------------------------------------------------

@pytest.mark.parametrize("form", ["public", "sec1", "pkcs8"])
def test_valid_token(key, form):
    assert_ok(verify(mint(key), getattr(key, form)))


def test_valid_token_without_kid_and_one_key(key):
    assert_ok(verify(mint(key, header={"alg": "ES256", "typ": "JWT"}), key.public))


def test_token_without_typ_is_accepted(key):
    assert_ok(verify(mint(key, header={"alg": "ES256", "kid": key.kid}), key.public))


def test_no_scope_means_no_scopes(key):
    assert_ok(verify(mint(key, payload=claims(scope=DROP)), key.public), scopes="")


def test_exp_as_fraction(key):
    assert_ok(verify(mint(key, payload=claims(exp=NOW + 0.5)), key.public))


def test_kid_selects_among_several_keys(key, other):
    keys = ((key.public, "a"), (other.public, "b"))
    tok_b = mint(other, header={"alg": "ES256", "kid": "b"})
    assert_ok(verify(tok_b, *keys))
    # the same signature presented as key a's
    tok_a = mint(other, header={"alg": "ES256", "kid": "a"})
    assert_reject(verify(tok_a, *keys), "sig_invalid")


def test_kid_required_with_several_keys(key, other):
    tok = mint(key, header={"alg": "ES256", "typ": "JWT"})
    assert_reject(verify(tok, key.public, other.public), "kid_required")


# --- algorithm -------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("with_sig", [False, True])
def test_alg_none(key, alg, with_sig):
    tok = mint(key, header={"alg": alg, "typ": "JWT"})
    if not with_sig:
        tok = tok.rsplit(".", 1)[0] + "."
    assert_reject(verify(tok, key.public), "alg_not_allowed")


def public_key_secrets(key):
    """Everything a confused verifier might use as the HMAC key: the PEM
    (with and without its final newline), the DER, the raw point and the
    JWKS text."""
    pem = key.pub.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    der = key.pub.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    point = key.pub.public_bytes(serialization.Encoding.X962,
                                 serialization.PublicFormat.UncompressedPoint)
    jwks = tool("jwks", "--key", key.public).stdout.strip().encode()
    return [pem, pem.rstrip(b"\n"), der, point, jwks]


@pytest.mark.parametrize("alg,digest", [("HS256", hashlib.sha256), ("HS384", hashlib.sha384),
                                        ("HS512", hashlib.sha512)])
def test_hs_key_confusion(key, alg, digest):
    for secret in public_key_secrets(key):
        tok = mint(key, header={"alg": alg, "typ": "JWT", "kid": key.kid},
                   sig=lambda data: hmac.new(secret, data, digest).digest())
        assert_reject(verify(tok, key.public), "alg_not_allowed")


def test_es256_header_with_hmac_signature(key):
    """alg says ES256 but the signature is an HMAC with the public key."""
    secret = public_key_secrets(key)[0]
    tok = mint(key, sig=lambda data: hmac.new(secret, data, hashlib.sha256).digest())
    assert_reject(verify(tok, key.public), "sig_length")


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_rsa_algs(key, rsa_key, alg):
    pad = padding.PKCS1v15() if alg == "RS256" else padding.PSS(
        mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    tok = mint(key, header={"alg": alg, "typ": "JWT", "kid": key.kid},
               sig=lambda data: rsa_key.sign(data, pad, hashes.SHA256()))
    assert_reject(verify(tok, key.public), "alg_not_allowed")


@pytest.mark.parametrize("alg", ["ES384", "ES512", "ES256K", "EdDSA", "es256", "ES256 ", "RS384", "HS256"])
def test_other_alg_names_even_with_a_valid_es256_signature(key, alg):
    tok = mint(key, header={"alg": alg, "typ": "JWT", "kid": key.kid})
    assert_reject(verify(tok, key.public), "alg_not_allowed")


def test_es384_with_a_p384_key(key):
    p384 = ec.generate_private_key(ec.SECP384R1())
    hdr = b64u(compact({"alg": "ES384", "kid": key.kid}))
    data = (hdr + "." + b64u(compact(claims()))).encode()
    r, s = decode_dss_signature(p384.sign(data, ec.ECDSA(hashes.SHA384())))
    tok = data.decode() + "." + b64u(r.to_bytes(48, "big") + s.to_bytes(48, "big"))
    assert_reject(verify(tok, key.public), "alg_not_allowed")


@pytest.mark.parametrize("header", [{"typ": "JWT"}, {"alg": 256}, {"alg": None}, {"alg": ["ES256"]}])
def test_alg_missing_or_not_a_string(key, header):
    assert_reject(verify(mint(key, header=header), key.public), "alg_missing")


# --- keys named or carried by the token ------------------------------------------

def test_foreign_key_same_kid(key, other):
    tok = mint(other, header={"alg": "ES256", "typ": "JWT", "kid": key.kid})
    assert_reject(verify(tok, key.public), "sig_invalid")


def test_foreign_key_no_kid(key, other):
    tok = mint(other, header={"alg": "ES256", "typ": "JWT"})
    assert_reject(verify(tok, key.public), "sig_invalid")


def test_unknown_kid(key, other):
    assert_reject(verify(mint(other), key.public), "kid_unknown")
    assert_reject(verify(mint(key, header={"alg": "ES256", "kid": key.kid.swapcase()}), key.public),
                  "kid_unknown")


@pytest.mark.parametrize("kid", [7, None, ["x"], "k" * 129])
def test_kid_malformed(key, kid):
    assert_reject(verify(mint(key, header={"alg": "ES256", "kid": kid}), key.public), "kid_malformed")


def attacker_jwk(k):
    nums = k.pub.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64u(nums.x.to_bytes(32, "big")),
            "y": b64u(nums.y.to_bytes(32, "big"))}


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c"])
def test_embedded_or_linked_keys(key, other, member):
    value = {
        "jwk": attacker_jwk(other),
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIBszCCAVmgAwIBAgIUXz"],
    }[member]
    # signed by the attacker's key, no kid: a verifier that honours the
    # member would find the attacker's key there
    tok = mint(other, header={"alg": "ES256", "typ": "JWT", member: value})
    assert_reject(verify(tok, key.public), "embedded_key")
    # refused even when the token is otherwise perfectly valid
    tok = mint(key, header={"alg": "ES256", "kid": key.kid, member: value})
    assert_reject(verify(tok, key.public), "embedded_key")


def test_embedded_jwk_of_our_own_key(key):
    tok = mint(key, header={"alg": "ES256", "kid": key.kid, "jwk": attacker_jwk(key)})
    assert_reject(verify(tok, key.public), "embedded_key")


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["http://example.com/x"], [], "exp", None])
def test_crit(key, crit):
    hdr = {"alg": "ES256", "kid": key.kid, "crit": crit}
    if crit == ["b64"]:
        hdr["b64"] = False
    assert_reject(verify(mint(key, header=hdr), key.public), "crit")


# --- typ --------------------------------------------------------------------------

@pytest.mark.parametrize("typ", ["JWT", "jwt", "Jwt", "application/jwt", "APPLICATION/JWT", "at+jwt",
                                 "application/at+JWT"])
def test_typ_accepted(key, typ):
    assert_ok(verify(mint(key, header={"alg": "ES256", "kid": key.kid, "typ": typ}), key.public))


@pytest.mark.parametrize("typ", ["JOSE", "JOSE+JSON", "text/jwt", "application/jose", "jwt ", "",
                                 "application/", "secevent+jwt", 1, None, ["JWT"]])
def test_typ_refused(key, typ):
    assert_reject(verify(mint(key, header={"alg": "ES256", "kid": key.kid, "typ": typ}), key.public), "typ")


def test_typ_expected_by_the_caller(key):
    at = mint(key, header={"alg": "ES256", "kid": key.kid, "typ": "application/at+jwt"})
    plain = mint(key, header={"alg": "ES256", "kid": key.kid, "typ": "JWT"})
    untyped = mint(key, header={"alg": "ES256", "kid": key.kid})
    assert_ok(verify(at, key.public, extra=["--typ", "at+jwt"]))
    assert_reject(verify(plain, key.public, extra=["--typ", "at+jwt"]), "typ")
    assert_ok(verify(untyped, key.public, extra=["--typ", "at+jwt"]))
    assert_reject(verify(untyped, key.public, extra=["--typ", "at+jwt", "--typ-required"]), "typ")


# --- time claims ------------------------------------------------------------------

def test_expired(key):
    assert_reject(verify(mint(key, payload=claims(exp=NOW - LEEWAY - 1)), key.public), "expired")
    assert_reject(verify(mint(key, payload=claims(exp=NOW - 3600)), key.public), "expired")


def test_expired_within_leeway(key):
    assert_ok(verify(mint(key, payload=claims(exp=NOW - 10)), key.public))
    assert_ok(verify(mint(key, payload=claims(exp=NOW - LEEWAY + 1)), key.public))


def test_exp_boundary(key):
    # RFC 7519 §4.1.4: not accepted on or after exp (plus leeway)
    assert_reject(verify(mint(key, payload=claims(exp=NOW - LEEWAY)), key.public), "expired")
    assert_reject(verify(mint(key, payload=claims(exp=NOW)), key.public, leeway=0), "expired")
    assert_ok(verify(mint(key, payload=claims(exp=NOW + 1)), key.public, leeway=0))


def test_missing_exp(key):
    assert_reject(verify(mint(key, payload=claims(exp=DROP)), key.public), "exp_missing")


@pytest.mark.parametrize("exp", [str(NOW + 900), True, None, [NOW + 900], {"t": NOW}, -1, 1e13])
def test_exp_malformed(key, exp):
    assert_reject(verify(mint(key, payload=claims(exp=exp)), key.public), "exp_malformed")


def test_nbf_in_future(key):
    assert_reject(verify(mint(key, payload=claims(nbf=NOW + LEEWAY + 1)), key.public), "not_yet_valid")
    assert_reject(verify(mint(key, payload=claims(nbf=NOW + 600)), key.public), "not_yet_valid")
    assert_ok(verify(mint(key, payload=claims(nbf=NOW + 20)), key.public))
    assert_reject(verify(mint(key, payload=claims(nbf="0")), key.public), "nbf_malformed")


def test_iat_in_future(key):
    assert_reject(verify(mint(key, payload=claims(iat=NOW + LEEWAY + 1, nbf=DROP)), key.public), "iat_future")
    assert_ok(verify(mint(key, payload=claims(iat=NOW + 20, nbf=DROP)), key.public))
    assert_reject(verify(mint(key, payload=claims(iat="now")), key.public), "iat_malformed")


# --- iss, aud, sub, scope ---------------------------------------------------------

@pytest.mark.parametrize("iss", ["evil", "Bulwark", "bulwark ", "", ["bulwark"], DROP, None])
def test_wrong_iss(key, iss):
    assert_reject(verify(mint(key, payload=claims(iss=iss)), key.public), "iss")


@pytest.mark.parametrize("aud", ["other-api", "bulwark-API", "", [], ["other"], ["other", 5, AUD], 7, DROP])
def test_wrong_aud(key, aud):
    assert_reject(verify(mint(key, payload=claims(aud=aud)), key.public), "aud")


@pytest.mark.parametrize("aud", [[AUD], ["other", AUD], [AUD, "third"]])
def test_aud_array_containing_ours(key, aud):
    assert_ok(verify(mint(key, payload=claims(aud=aud)), key.public))


@pytest.mark.parametrize("sub", [DROP, "", 42, None, "alice\r\nX-Auth-Scopes: admin", "a b", "é",
                                 "x" * 256])
def test_bad_sub(key, sub):
    assert_reject(verify(mint(key, payload=claims(sub=sub)), key.public), "sub")


@pytest.mark.parametrize("scope", ["", " admin", "admin ", "a  b", 'a"b', "a\\b", "a\tb", ["admin"], 1,
                                   " ".join("s%d" % i for i in range(33))])
def test_bad_scope(key, scope):
    assert_reject(verify(mint(key, payload=claims(scope=scope)), key.public), "scope")


def test_scopes_are_listed(key):
    r = verify(mint(key, payload=claims(scope="profile:read items:read items:write")), key.public)
    assert_ok(r, scopes="profile:read,items:read,items:write")


def test_jti_bad(key):
    assert_reject(verify(mint(key, payload=claims(jti=5)), key.public), "jti")
    assert_reject(verify(mint(key, payload=claims(jti="a b")), key.public), "jti")


# --- signatures -------------------------------------------------------------------

def test_zero_signature(key):
    """CVE-2022-21449 ("psychic signatures"): r = s = 0."""
    assert_reject(verify(mint(key, sig=bytes(64)), key.public), "sig_range")


def with_rs(key, fix_r=None, fix_s=None):
    def sign(data):
        r, s = decode_dss_signature(key.priv.sign(data, ec.ECDSA(hashes.SHA256())))
        r = fix_r(r) if fix_r else r
        s = fix_s(s) if fix_s else s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return sign


@pytest.mark.parametrize("fix_r,fix_s", [
    (lambda r: P256_N, None),
    (None, lambda s: P256_N),
    (lambda r: 0, None),
    (None, lambda s: 0),
    (lambda r: 2 ** 256 - 1, None),
    (None, lambda s: P256_N + 1),
])
def test_signature_scalars_out_of_range(key, fix_r, fix_s):
    assert_reject(verify(mint(key, sig=with_rs(key, fix_r, fix_s)), key.public), "sig_range")


def test_der_signature(key):
    def der(data):
        return key.priv.sign(data, ec.ECDSA(hashes.SHA256()))
    assert_reject(verify(mint(key, sig=der), key.public), "sig_length")


@pytest.mark.parametrize("cut", [b"", b"\x01" * 63, b"\x01" * 65, b"\x01" * 96, b"\x01" * 200])
def test_signature_wrong_length(key, cut):
    assert_reject(verify(mint(key, sig=cut), key.public), "sig_length")


def test_flipped_signature_bit(key):
    def flip(data):
        sig = bytearray(es256_raw(key.priv, data))
        sig[40] ^= 1
        return bytes(sig)
    assert_reject(verify(mint(key, sig=flip), key.public), "sig_invalid")


def test_signing_input_is_taken_as_received(key):
    """Same header and claims, re-serialised: the old signature must fail."""
    tok = mint(key)
    h, p, s = tok.split(".")
    respaced = b64u(json.dumps(json.loads(b64u_decode(p)), separators=(", ", ": ")))
    assert_reject(verify(".".join([h, respaced, s]), key.public), "sig_invalid")


def test_payload_swapped_under_valid_header_and_signature(key):
    good = mint(key)
    evil = mint(key, payload=claims(sub="admin", scope="admin"))
    h, _, s = good.split(".")
    assert_reject(verify(".".join([h, evil.split(".")[1], s]), key.public), "sig_invalid")


# --- shape ------------------------------------------------------------------------

def test_two_and_four_segments(key):
    tok = mint(key)
    h, p, s = tok.split(".")
    assert_reject(verify(h + "." + p, key.public), "segments")
    assert_reject(verify(tok + "." + s, key.public), "segments")
    assert_reject(verify(tok + ".", key.public), "segments")
    assert_reject(verify(".".join([h, p, s, s, s]), key.public), "segments")
    assert_reject(verify(h, key.public), "segments")


def test_padding_in_segments(key):
    # JSON whitespace makes every segment's length leave a partial group
    hdr = compact({"alg": "ES256", "kid": key.kid})
    payload = compact(claims())
    hdr += " " * (1 if len(hdr) % 3 == 0 else 0)
    payload += " " * (1 if len(payload) % 3 == 0 else 0)
    tok = mint(key, raw_header=hdr, raw_payload=payload)
    assert_ok(verify(tok, key.public))
    h, p, s = tok.split(".")
    pad = lambda seg: seg + "=" * (-len(seg) % 4)  # noqa: E731
    assert pad(h) != h and pad(p) != p and pad(s) != s
    assert_reject(verify(".".join([pad(h), p, s]), key.public), "header_base64")
    assert_reject(verify(".".join([h, pad(p), s]), key.public), "payload_base64")
    assert_reject(verify(".".join([h, p, pad(s)]), key.public), "sig_base64")


def test_standard_alphabet_and_junk_refused(key):
    tok = mint(key)
    h, p, s = tok.split(".")
    std = lambda seg: seg.replace("-", "+").replace("_", "/")  # noqa: E731
    assert_reject(verify(".".join([h, p, s[:-2] + " " + s[-1:]]), key.public), "sig_base64")
    assert_reject(verify(".".join([h, p[:10] + "\n" + p[10:], s]), key.public), "payload_base64")
    assert_reject(verify(".".join(["!" + h, p, s]), key.public), "header_base64")
    if std(s) != s:
        assert_reject(verify(".".join([h, p, std(s)]), key.public), "sig_base64")


def test_non_canonical_trailing_bits(key):
    """64 bytes need 86 characters, the last carrying 4 unused bits: a
    lenient decoder reads 'B' like 'A' and the signature would verify."""
    tok = mint(key)
    h, p, s = tok.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    v = alphabet.index(s[-1])
    assert v & 15 == 0
    s2 = s[:-1] + alphabet[v | 1]
    assert b64u_decode(s2) == b64u_decode(s)
    assert_reject(verify(".".join([h, p, s2]), key.public), "sig_base64")


def test_oversized_token(key):
    tok = mint(key, payload=claims(pad="x" * TOKEN_MAX))
    assert len(tok) > TOKEN_MAX
    assert_reject(verify(tok, key.public), "too_large")


def test_token_just_under_the_limit(key):
    base = len(mint(key, payload=claims(pad="")))
    n = (TOKEN_MAX - base) * 3 // 4
    tok = mint(key, payload=claims(pad="x" * n))
    while len(tok) > TOKEN_MAX:
        n -= 1
        tok = mint(key, payload=claims(pad="x" * n))
    assert TOKEN_MAX - 4 <= len(tok) <= TOKEN_MAX
    assert_ok(verify(tok, key.public))


def test_caller_token_limit(key):
    tok = mint(key)
    assert_reject(verify(tok, key.public, extra=["--max-bytes", len(tok) - 1]), "too_large")
    assert_ok(verify(tok, key.public, extra=["--max-bytes", len(tok)]))


def test_oversized_header(key):
    tok = mint(key, header={"alg": "ES256", "kid": key.kid, "x": "y" * HEADER_MAX})
    assert len(tok) < TOKEN_MAX
    assert_reject(verify(tok, key.public), "header_too_large")


def test_duplicate_keys_in_header(key):
    raw = '{"alg":"none","alg":"ES256","kid":"%s"}' % key.kid
    assert_reject(verify(mint(key, raw_header=raw), key.public), "header_json")
    raw = '{"alg":"ES256","kid":"%s","kid":"%s"}' % (key.kid, key.kid)
    assert_reject(verify(mint(key, raw_header=raw), key.public), "header_json")


def test_duplicate_keys_in_claims(key):
    body = compact(claims())[:-1] + ',"sub":"admin"}'
    assert_reject(verify(mint(key, raw_payload=body), key.public), "claims_json")
    body = compact(claims())[:-1] + ',"exp":%d}' % (NOW + 10 ** 6)
    assert_reject(verify(mint(key, raw_payload=body), key.public), "claims_json")


@pytest.mark.parametrize("raw", ['["ES256"]', '"ES256"', "null", "1", "", "{", '{"alg":"ES256"} x',
                                 '{"alg":"ES256"}{}'])
def test_non_object_header(key, raw):
    assert_reject(verify(mint(key, raw_header=raw), key.public), "header_json")


def test_header_not_utf8(key):
    hdr = b'{"alg":"ES256","x":"\xff"}'
    tok = b64u(hdr) + "." + b64u(compact(claims())) + ".AA"
    assert_reject(verify(tok, key.public), "header_json")


@pytest.mark.parametrize("raw", ["[]", '"claims"', "null", "42", "", '{"sub":"alice"', "[" * 20 + "]" * 20])
def test_non_object_claims(key, raw):
    assert_reject(verify(mint(key, raw_payload=raw), key.public), "claims_json")


def test_deeply_nested_claims(key):
    deep = compact(claims())[:-1] + ',"x":' + "[" * 1000 + "]" * 1000 + "}"
    assert_reject(verify(mint(key, raw_payload=deep), key.public), "claims_json")


def test_nul_in_claims(key):
    body = compact(claims())[:-1] + ',"x":"a\\u0000b"}'
    assert_reject(verify(mint(key, raw_payload=body), key.public), "claims_json")


# --- signing and JWKS -------------------------------------------------------------

def sign(key, sub="alice", scope="profile:read items:read", ttl=900, now=NOW, kid=None):
    args = ["sign", "--key", key, "--sub", sub, "--scope", scope, "--iss", ISS, "--aud", AUD, "--ttl", ttl,
            "--now", now]
    if kid:
        args[3:3] = ["--kid", kid]
    r = tool(*args)
    assert r.returncode == 0, r
    return r.stdout.strip()


def test_signed_token_verifies(key):
    tok = sign(key.sec1)
    assert_ok(verify(tok, key.public))
    assert_ok(verify(tok, key.pkcs8))


def test_signed_token_shape(key):
    tok = sign(key.pkcs8, ttl=900)
    h, p, s = tok.split(".")
    assert json.loads(b64u_decode(h)) == {"alg": "ES256", "typ": "JWT", "kid": key.kid}
    c = json.loads(b64u_decode(p))
    assert set(c) == {"iss", "aud", "sub", "scope", "iat", "nbf", "exp", "jti"}
    assert (c["iss"], c["aud"], c["sub"], c["scope"]) == (ISS, AUD, "alice", "profile:read items:read")
    assert c["iat"] == c["nbf"] == NOW and c["exp"] == NOW + 900
    assert len(b64u_decode(c["jti"])) == 16 and len(c["jti"]) == 22
    sig = b64u_decode(s)
    assert len(sig) == 64
    # python3-cryptography agrees that it is a valid ES256 signature
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.pub.verify(der, (h + "." + p).encode(), ec.ECDSA(hashes.SHA256()))


def test_signed_tokens_have_distinct_jti(key):
    jtis = {json.loads(b64u_decode(sign(key.sec1).split(".")[1]))["jti"] for _ in range(5)}
    assert len(jtis) == 5


def test_signed_token_lifetime(key):
    tok = sign(key.sec1, ttl=900, now=NOW)
    assert_ok(verify(tok, key.public, now=NOW + 900 + LEEWAY - 1))
    assert_reject(verify(tok, key.public, now=NOW + 900 + LEEWAY), "expired")


def test_sign_with_explicit_kid(key):
    tok = sign(key.sec1, kid="login-2024")
    assert json.loads(b64u_decode(tok.split(".")[0]))["kid"] == "login-2024"
    assert_ok(verify(tok, (key.public, "login-2024")))
    assert_reject(verify(tok, key.public), "kid_unknown")


@pytest.mark.parametrize("sub,scope", [("a b", "x"), ("", "x"), ("alice", "a  b"), ("alice", 'a"b')])
def test_sign_refuses_claims_the_verifier_would_refuse(key, sub, scope):
    r = tool("sign", "--key", key.sec1, "--sub", sub, "--scope", scope, "--iss", ISS, "--aud", AUD,
             "--ttl", 900)
    assert r.returncode == 2 and "bad claims" in r.stderr, r


def test_sign_needs_a_private_key(key):
    r = tool("sign", "--key", key.public, "--sub", "alice", "--scope", "x", "--iss", ISS, "--aud", AUD,
             "--ttl", 900)
    assert r.returncode == 2 and "private key" in r.stderr, r


def test_jwks_matches_the_key(key, other):
    r = tool("jwks", "--key", key.sec1, "--key", other.public)
    assert r.returncode == 0, r
    doc = json.loads(r.stdout)
    assert list(doc) == ["keys"] and len(doc["keys"]) == 2
    for jwk, k in zip(doc["keys"], (key, other)):
        nums = k.pub.public_numbers()
        assert jwk == {"kty": "EC", "crv": "P-256", "x": b64u(nums.x.to_bytes(32, "big")),
                       "y": b64u(nums.y.to_bytes(32, "big")), "kid": k.kid, "alg": "ES256", "use": "sig"}
    assert '"d"' not in r.stdout


def test_default_kid_is_the_rfc7638_thumbprint(key):
    for form in (key.public, key.sec1, key.pkcs8):
        r = tool("kid", "--key", form)
        assert r.stdout.strip() == key.kid, r


def test_rfc7638_example_thumbprint():
    """The thumbprint helper above against RFC 7638 §3.1's method on a
    fixed EC key (self-check of the test, so the C comparison means
    something)."""
    x = b64u_decode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU")
    y = b64u_decode("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")
    pub = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                        ec.SECP256R1()).public_key()
    doc = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (b64u(x), b64u(y))
    assert jwk_thumbprint(pub) == b64u(hashlib.sha256(doc.encode()).digest())


# --- key loading ------------------------------------------------------------------

def test_key_loading_errors(keydir, key, rsa_key):
    p384 = keydir / "p384.pem"
    p384.write_bytes(ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    rsa_pem = keydir / "rsa.pem"
    rsa_pem.write_bytes(rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    enc = keydir / "enc.pem"
    enc.write_bytes(key.priv.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    garbage = keydir / "garbage.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    empty = keydir / "empty.pem"
    empty.write_text("")
    cases = [(p384, "P-256"), (rsa_pem, "RSA"), (enc, "encrypted"), (garbage, "not a PEM EC key"),
             (empty, "no PEM block"), (keydir / "missing.pem", "No such file")]
    for path, words in cases:
        r = tool("jwks", "--key", path)
        assert r.returncode == 2, (path, r)
        line = r.stderr.strip()
        assert "\n" not in line and str(path) in line and words in line, (path, line)


def test_duplicate_keys_and_kids_refused(key, other):
    r = tool("jwks", "--key", key.public, "--key", key.sec1)
    assert r.returncode == 2 and "already loaded" in r.stderr, r
    r = tool("jwks", "--key", key.public, "--kid", "k", "--key", other.public, "--kid", "k")
    assert r.returncode == 2 and "already used" in r.stderr, r
    r = tool("jwks", "--key", key.public, "--kid", 'bad"kid')
    assert r.returncode == 2 and "kid" in r.stderr, r


def test_private_key_material_never_printed(key):
    d = key.priv.private_numbers().private_value.to_bytes(32, "big")
    r = tool("jwks", "--key", key.sec1)
    assert b64u(d) not in r.stdout + r.stderr


# --- the cache of verified signatures (jwt_verify.c) ------------------------------

def test_signature_cache_answers_only_the_exact_token(key, other):
    good = mint(key)
    # the same signing input with a signature by another key, and the good
    # signature over another payload: neither may ride on the cached entry
    forged = mint(key, sig=lambda si: es256_raw(other.priv, si))
    head, _, sig = good.rpartition(".")
    moved = mint(key, payload=claims(sub="mallory")).rpartition(".")[0] + "." + sig
    r = tool("verify", "--key", key.public, "--iss", ISS, "--aud", AUD, "--leeway", LEEWAY, "--now", NOW,
             good, good, forged, good, moved, good)
    assert r.stdout.splitlines() == [
        "OK sub=alice scopes=profile:read,items:read",
        "OK sub=alice scopes=profile:read,items:read",
        "REJECT sig_invalid",
        "OK sub=alice scopes=profile:read,items:read",
        "REJECT sig_invalid",
        "OK sub=alice scopes=profile:read,items:read",
        "sig_cache_hits=3",
    ], r


def test_signature_cache_does_not_skip_the_claims(key):
    # an expired token is refused although its signature verifies (and is cached)
    old = mint(key, payload=claims(exp=NOW - LEEWAY - 1))
    r = tool("verify", "--key", key.public, "--iss", ISS, "--aud", AUD, "--leeway", LEEWAY, "--now", NOW, old, old)
    assert r.stdout.splitlines() == ["REJECT expired", "REJECT expired", "sig_cache_hits=1"], r
