"""Tests for image/demo/mkdemo, the demo identity generator.

The binary is taken from $BULWARK_MKDEMO, else <repo>/build/bin/mkdemo; a
missing binary is a failure, not a skip. Certificates and keys are checked
with the openssl command-line tool (tests only: the product has no OpenSSL).
"""

import base64
import calendar
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MKDEMO = Path(os.environ.get("BULWARK_MKDEMO", REPO / "build" / "bin" / "mkdemo"))

FILES = {
    "ca.pem",
    "jwt-signing-key.pem",
    "credentials.json",
    "secrets/tls-cert.pem",
    "secrets/tls-key.pem",
    "secrets/jwt-signing-key.pem",
    "secrets/users.json",
}
DIRS = {"secrets"}

USERS = {
    "alice": ["profile:read", "items:read", "items:write"],
    "bob": ["profile:read", "items:read", "items:write"],
    "admin": ["profile:read", "admin"],
}
MIN_ITERATIONS = 310000
SANS = [
    "DNS:localhost",
    "DNS:bulwark.test",
    "DNS:*.bulwark.test",
    "IP Address:127.0.0.1",
    "IP Address:0:0:0:0:0:0:0:1",
]
HOUR = 3600
DAY = 24 * HOUR
PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----\n.*?-----END \1-----\n", re.S)


def run_mkdemo(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env.update(env_extra or {})
    return subprocess.run([str(MKDEMO), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120)


def generate(outdir, **kw):
    r = run_mkdemo(outdir, **kw)
    assert r.returncode == 0, f"mkdemo {outdir} failed: {r.stderr}"
    assert r.stdout == "" and r.stderr == ""
    return outdir


def openssl(*args, stdin=None):
    r = subprocess.run(["openssl", *map(str, args)], input=stdin,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"openssl {' '.join(map(str, args))}: {r.stderr}"
    return r.stdout


def cert_text(pem_path):
    return openssl("x509", "-in", pem_path, "-noout", "-text")


def cert_dates(pem_path):
    out = openssl("x509", "-in", pem_path, "-noout", "-startdate", "-enddate")
    dates = dict(line.split("=", 1) for line in out.splitlines())

    def parse(s):
        return calendar.timegm(time.strptime(s, "%b %d %H:%M:%S %Y GMT"))
    return parse(dates["notBefore"]), parse(dates["notAfter"])


def snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(parent):
    return [p.name for p in parent.iterdir() if ".tmp-" in p.name]


@pytest.fixture(scope="session", autouse=True)
def tools():
    if not MKDEMO.is_file() or not os.access(MKDEMO, os.X_OK):
        pytest.fail(f"mkdemo binary not found at {MKDEMO}: build it "
                    "(./build.sh) or set BULWARK_MKDEMO to its path", pytrace=False)
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command-line tool is needed by these tests",
                    pytrace=False)


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("run1") / "demo")


@pytest.fixture(scope="module")
def identity2(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("run2") / "demo")


@pytest.fixture(scope="module")
def leaf(identity, tmp_path_factory):
    """The first certificate of the served chain, on its own."""
    chain = PEM_BLOCK.finditer((identity / "secrets/tls-cert.pem").read_text())
    path = tmp_path_factory.mktemp("leaf") / "leaf.pem"
    path.write_text(next(chain).group(0))
    return path


# --- layout -------------------------------------------------------------------

def test_file_set_and_modes(identity):
    found = {str(p.relative_to(identity)) for p in identity.rglob("*")}
    assert found == FILES | DIRS
    assert stat.S_IMODE(identity.stat().st_mode) == 0o700
    for d in DIRS:
        assert stat.S_IMODE((identity / d).stat().st_mode) == 0o700, d
    for f in FILES:
        st = (identity / f).lstat()
        assert stat.S_ISREG(st.st_mode), f
        assert stat.S_IMODE(st.st_mode) == 0o600, f
    assert leftovers(identity.parent) == []


def test_pem_contents(identity):
    def kinds(name):
        return PEM_BLOCK.findall((identity / name).read_text())
    assert kinds("ca.pem") == ["CERTIFICATE"]
    assert kinds("secrets/tls-cert.pem") == ["CERTIFICATE", "CERTIFICATE"]
    assert kinds("secrets/tls-key.pem") == ["EC PRIVATE KEY"]
    assert kinds("jwt-signing-key.pem") == ["EC PRIVATE KEY"]
    assert ((identity / "jwt-signing-key.pem").read_bytes()
            == (identity / "secrets/jwt-signing-key.pem").read_bytes())


def test_chain_ends_with_the_ca(identity):
    chain = [m.group(0) for m in
             PEM_BLOCK.finditer((identity / "secrets/tls-cert.pem").read_text())]
    assert chain[1] == (identity / "ca.pem").read_text()


def test_ca_private_key_written_nowhere(identity):
    ca_pub = openssl("x509", "-in", identity / "ca.pem", "-noout", "-pubkey")
    for f in FILES:
        text = (identity / f).read_text()
        for m in PEM_BLOCK.finditer(text):
            if "PRIVATE KEY" in m.group(1):
                pub = openssl("pkey", "-pubout", stdin=m.group(0))
                assert pub != ca_pub, f"{f} holds the CA private key"


# --- passwords ----------------------------------------------------------------

def test_credentials_shape(identity):
    creds = json.loads((identity / "credentials.json").read_text())
    assert list(creds) == ["alice", "bob", "admin"]
    for user, password in creds.items():
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}", password), user
    assert len(set(creds.values())) == 3


def parse_hash(s):
    m = re.fullmatch(r"pbkdf2-sha256\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)", s)
    assert m, f"bad password_hash format: {s}"
    return (int(m.group(1)), base64.b64decode(m.group(2), validate=True),
            base64.b64decode(m.group(3), validate=True))


def test_users_json(identity):
    creds = json.loads((identity / "credentials.json").read_text())
    doc = json.loads((identity / "secrets/users.json").read_text())
    assert list(doc) == ["users"]
    users = {u["username"]: u for u in doc["users"]}
    assert len(users) == len(doc["users"])
    assert set(users) == set(USERS)
    salts = set()
    for name, u in users.items():
        assert set(u) == {"username", "scopes", "password_hash"}
        assert u["scopes"] == USERS[name]
        iterations, salt, dk = parse_hash(u["password_hash"])
        assert iterations >= MIN_ITERATIONS
        assert len(salt) == 16 and len(dk) == 32
        salts.add(salt)
        password = creds[name].encode()
        assert hashlib.pbkdf2_hmac("sha256", password, salt, iterations) == dk
        assert hashlib.pbkdf2_hmac("sha256", password + b"x", salt, iterations) != dk
    assert len(salts) == 3


# --- certificates -------------------------------------------------------------

def test_server_cert_verifies_against_ca(identity, leaf):
    out = openssl("verify", "-purpose", "sslserver", "-CAfile", identity / "ca.pem", leaf)
    assert out.strip() == f"{leaf}: OK"


def test_server_cert_names(leaf):
    text = openssl("x509", "-in", leaf, "-noout", "-subject", "-ext", "subjectAltName")
    assert "subject=CN = localhost" in text
    names = text.split("X509v3 Subject Alternative Name:")[1].split(",")
    assert [n.strip() for n in names] == SANS
    for host in ("localhost", "bulwark.test", "app.bulwark.test"):
        openssl("x509", "-in", leaf, "-noout", "-checkhost", host)
    for ip in ("127.0.0.1", "::1"):
        openssl("x509", "-in", leaf, "-noout", "-checkip", ip)
    out = openssl("x509", "-in", leaf, "-noout", "-checkhost", "evil.test")
    assert "does NOT match" in out


def test_server_cert_extensions(identity, leaf):
    text = cert_text(leaf)
    assert "Issuer: CN = Bulwark demo CA" in text
    assert re.search(r"Basic Constraints: *\n *CA:FALSE", text)
    assert re.search(r"Key Usage: critical\n *Digital Signature\n", text)
    assert re.search(r"Extended Key Usage: critical\n *TLS Web Server Authentication\n", text)
    skid = re.search(r"Subject Key Identifier: *\n *([0-9A-F:]+)", cert_text(identity / "ca.pem"))
    akid = re.search(r"Authority Key Identifier: *\n *(?:keyid:)?([0-9A-F:]+)", text)
    assert skid and akid and skid.group(1) == akid.group(1)


def test_ca_cert(identity):
    text = cert_text(identity / "ca.pem")
    assert "Subject: CN = Bulwark demo CA" in text
    assert "Issuer: CN = Bulwark demo CA" in text
    assert re.search(r"Basic Constraints: critical\n *CA:TRUE, pathlen:0\n", text)
    assert re.search(r"Key Usage: critical\n *Certificate Sign, CRL Sign\n", text)
    assert "Subject Key Identifier" in text
    assert "Authority Key Identifier" in text


@pytest.mark.parametrize("name", ["ca.pem", "leaf"])
def test_certs_are_ecdsa_p256(identity, leaf, name):
    text = cert_text(leaf if name == "leaf" else identity / name)
    assert "Public Key Algorithm: id-ecPublicKey" in text
    assert "NIST CURVE: P-256" in text
    assert "Signature Algorithm: ecdsa-with-SHA256" in text


@pytest.mark.parametrize("name", ["ca.pem", "leaf"])
def test_serial_is_16_random_positive_bytes(identity, leaf, name):
    out = openssl("x509", "-in", leaf if name == "leaf" else identity / name,
                  "-noout", "-serial")
    serial = out.strip().split("=")[1]
    assert len(serial) == 32 and int(serial[0], 16) < 8


def test_validity_from_now(identity, leaf):
    now = time.time()
    for path, lifetime in ((identity / "ca.pem", 3653 * DAY), (leaf, 397 * DAY)):
        start, end = cert_dates(path)
        assert abs(start - (now - HOUR)) < 300
        assert end - start == lifetime + HOUR


def test_validity_from_source_date_epoch(tmp_path):
    epoch = 1700000000
    out = generate(tmp_path / "demo", env_extra={"SOURCE_DATE_EPOCH": str(epoch)})
    assert cert_dates(out / "ca.pem") == (epoch - HOUR, epoch + 3653 * DAY)
    chain = PEM_BLOCK.search((out / "secrets/tls-cert.pem").read_text()).group(0)
    (tmp_path / "leaf.pem").write_text(chain)
    assert cert_dates(tmp_path / "leaf.pem") == (epoch - HOUR, epoch + 397 * DAY)


# --- keys ---------------------------------------------------------------------

def test_tls_key_matches_cert(identity, leaf):
    cert_pub = openssl("x509", "-in", leaf, "-noout", "-pubkey")
    key_pub = openssl("pkey", "-in", identity / "secrets/tls-key.pem", "-pubout")
    assert cert_pub == key_pub


@pytest.mark.parametrize("name", ["secrets/tls-key.pem", "jwt-signing-key.pem"])
def test_keys_are_p256(identity, name):
    text = openssl("pkey", "-in", identity / name, "-noout", "-text")
    assert "NIST CURVE: P-256" in text


def test_jwt_key_signs_es256(identity, tmp_path):
    key = identity / "jwt-signing-key.pem"
    pub = tmp_path / "pub.pem"
    pub.write_text(openssl("pkey", "-in", key, "-pubout"))
    data = tmp_path / "data"
    data.write_bytes(b"header.payload")
    sig = tmp_path / "sig"
    openssl("dgst", "-sha256", "-sign", key, "-out", sig, data)
    out = openssl("dgst", "-sha256", "-verify", pub, "-signature", sig, data)
    assert out.strip() == "Verified OK"


# --- runs ---------------------------------------------------------------------

def test_two_runs_differ(identity, identity2):
    for f in FILES:
        assert (identity / f).read_bytes() != (identity2 / f).read_bytes(), f
    c1 = json.loads((identity / "credentials.json").read_text())
    c2 = json.loads((identity2 / "credentials.json").read_text())
    assert set(c1.values()).isdisjoint(c2.values())


def assert_one_line_error(r):
    assert r.returncode == 1
    assert r.stdout == ""
    assert re.fullmatch(r"mkdemo: [^\n]+: [^\n]+\n", r.stderr), r.stderr


def test_refuses_non_empty_dir(identity):
    before = snapshot(identity)
    r = run_mkdemo(identity)
    assert_one_line_error(r)
    assert "not empty" in r.stderr
    assert snapshot(identity) == before
    assert leftovers(identity.parent) == []


def test_fills_existing_empty_dir(tmp_path):
    (tmp_path / "demo").mkdir()
    out = generate(tmp_path / "demo")
    assert {str(p.relative_to(out)) for p in out.rglob("*")} == FILES | DIRS
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_force_replaces_earlier_output(tmp_path):
    out = generate(tmp_path / "demo")
    before = snapshot(out)
    r = run_mkdemo("--force", out)
    assert r.returncode == 0, r.stderr
    after = snapshot(out)
    assert set(after) == FILES
    assert all(after[f] != before[f] for f in FILES)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("foreign", ["notes.txt", "secrets/extra.pem"])
def test_force_refuses_foreign_files(tmp_path, foreign):
    out = generate(tmp_path / "demo")
    (out / foreign).write_text("keep me")
    before = snapshot(out)
    r = run_mkdemo("--force", out)
    assert_one_line_error(r)
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_refuses_a_file(tmp_path):
    (tmp_path / "demo").write_text("")
    assert_one_line_error(run_mkdemo(tmp_path / "demo"))


def test_bad_source_date_epoch(tmp_path):
    r = run_mkdemo(tmp_path / "demo", env_extra={"SOURCE_DATE_EPOCH": "yesterday"})
    assert_one_line_error(r)
    assert r.stderr.startswith("mkdemo: SOURCE_DATE_EPOCH: ")
    assert list(tmp_path.iterdir()) == []


def test_usage(tmp_path):
    for args in ((), ("--force",), ("-x", tmp_path / "d"), (tmp_path / "a", tmp_path / "b")):
        r = run_mkdemo(*args)
        assert r.returncode == 1
        assert r.stderr == "usage: mkdemo [--force] OUTDIR\n"
    assert list(tmp_path.iterdir()) == []
