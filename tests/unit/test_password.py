"""PBKDF2-SHA256 password hashes of app/crypto/password.c, through the
jwt_tool test driver ($BULWARK_JWT_TOOL, else <repo>/build/tests/jwt_tool).

Hashes are also made here with Python's hashlib, so the C code is checked
against an independent PBKDF2, and the demo users (build/demo, or
$BULWARK_DEMO) are verified when the build has generated them.
"""

import base64
import hashlib
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
TOOL = Path(os.environ.get("BULWARK_JWT_TOOL", REPO / "build" / "tests" / "jwt_tool"))
DEMO = Path(os.environ.get("BULWARK_DEMO", REPO / "build" / "demo"))

MIN_ITERATIONS = 310000
MAX_ITERATIONS = 10000000
PASSWORD_MAX = 1024


def tool(*args, timeout=60):
    if not TOOL.is_file():
        pytest.fail("jwt_tool not found at %s: build it (make binaries) or set BULWARK_JWT_TOOL" % TOOL,
                    pytrace=False)
    return subprocess.run([str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def b64(data):
    return base64.b64encode(data).decode()


def make_hash(password, salt=b"0123456789abcdef", iterations=MIN_ITERATIONS, dk=None):
    if dk is None:
        dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return "pbkdf2-sha256$%d$%s$%s" % (iterations, b64(salt), b64(dk))


def check(encoded, password):
    return tool("password-verify", "--", encoded, password)


def assert_ok(r):
    assert (r.returncode, r.stdout) == (0, "OK\n"), r


def assert_reject(r, reason):
    assert (r.returncode, r.stdout) == (1, "REJECT %s\n" % reason), r


@pytest.fixture(scope="module")
def python_hash():
    return make_hash("correct horse battery staple")


def test_round_trip():
    r = tool("password-hash", "--", "s3cret-Pa55")
    assert r.returncode == 0, r
    encoded = r.stdout.strip()
    scheme, iterations, salt, dk = encoded.split("$")
    assert scheme == "pbkdf2-sha256" and int(iterations) == MIN_ITERATIONS
    assert len(base64.b64decode(salt, validate=True)) == 16
    assert len(base64.b64decode(dk, validate=True)) == 32
    # an independent PBKDF2 agrees with the C one
    assert hashlib.pbkdf2_hmac("sha256", b"s3cret-Pa55", base64.b64decode(salt),
                               int(iterations)) == base64.b64decode(dk)
    assert_ok(check(encoded, "s3cret-Pa55"))
    assert_reject(check(encoded, "s3cret-Pa56"), "mismatch")
    # a fresh salt each time
    again = tool("password-hash", "--", "s3cret-Pa55").stdout.strip()
    assert again.split("$")[2] != salt


def test_python_made_hash_verifies(python_hash):
    assert_ok(check(python_hash, "correct horse battery staple"))


@pytest.mark.parametrize("wrong", ["", "correct horse battery staple ", "Correct horse battery staple"])
def test_wrong_password(python_hash, wrong):
    assert_reject(check(python_hash, wrong), "mismatch")


def test_more_iterations_and_longer_salt():
    encoded = make_hash("pw", salt=bytes(range(40)), iterations=MIN_ITERATIONS + 1)
    assert_ok(check(encoded, "pw"))


def test_password_hash_with_iterations():
    r = tool("password-hash", "--iterations", 400000, "--", "pw")
    assert r.returncode == 0 and r.stdout.startswith("pbkdf2-sha256$400000$"), r
    assert_ok(check(r.stdout.strip(), "pw"))


def test_iterations_below_minimum_refused():
    assert_reject(check(make_hash("pw", iterations=MIN_ITERATIONS - 1), "pw"), "iterations_low")
    assert_reject(check(make_hash("pw", iterations=1000), "pw"), "iterations_low")
    assert_reject(tool("password-hash", "--iterations", MIN_ITERATIONS - 1, "--", "pw"), "iterations_low")


def test_iterations_above_maximum_refused():
    salt, dk = b64(b"0123456789abcdef"), b64(bytes(32))
    for n in (MAX_ITERATIONS + 1, 99999999, 10 ** 12, 2 ** 64):
        assert_reject(check("pbkdf2-sha256$%d$%s$%s" % (n, salt, dk), "pw"), "iterations_high")


GOOD_SALT = b64(b"0123456789abcdef")
GOOD_DK = b64(bytes(32))


@pytest.mark.parametrize("encoded,reason", [
    ("", "format"),
    ("pbkdf2-sha256", "format"),
    ("pbkdf2-sha256$310000$%s" % GOOD_SALT, "format"),
    ("pbkdf2-sha256$310000$%s$%s$" % (GOOD_SALT, GOOD_DK), "format"),
    ("pbkdf2-sha256$310000$%s$%s$x" % (GOOD_SALT, GOOD_DK), "format"),
    ("pbkdf2-sha1$310000$%s$%s" % (GOOD_SALT, GOOD_DK), "format"),
    ("PBKDF2-SHA256$310000$%s$%s" % (GOOD_SALT, GOOD_DK), "format"),
    ("pbkdf2_sha256$310000$%s$%s" % (GOOD_SALT, GOOD_DK), "format"),
    (" pbkdf2-sha256$310000$%s$%s" % (GOOD_SALT, GOOD_DK), "format"),
    ("$pbkdf2-sha256$310000$%s$%s" % (GOOD_SALT, GOOD_DK), "format"),
    ("pbkdf2-sha256$310000$%s$%s" % (GOOD_SALT, "A" * 300), "format"),
    ("pbkdf2-sha256$$%s$%s" % (GOOD_SALT, GOOD_DK), "iterations"),
    ("pbkdf2-sha256$0310000$%s$%s" % (GOOD_SALT, GOOD_DK), "iterations"),
    ("pbkdf2-sha256$+310000$%s$%s" % (GOOD_SALT, GOOD_DK), "iterations"),
    ("pbkdf2-sha256$-310000$%s$%s" % (GOOD_SALT, GOOD_DK), "iterations"),
    ("pbkdf2-sha256$310000 $%s$%s" % (GOOD_SALT, GOOD_DK), "iterations"),
    ("pbkdf2-sha256$3.1e5$%s$%s" % (GOOD_SALT, GOOD_DK), "iterations"),
    ("pbkdf2-sha256$i=310000$%s$%s" % (GOOD_SALT, GOOD_DK), "iterations"),
    ("pbkdf2-sha256$0$%s$%s" % (GOOD_SALT, GOOD_DK), "iterations_low"),
    ("pbkdf2-sha256$310000$%s$%s" % (GOOD_SALT.rstrip("="), GOOD_DK), "salt"),
    ("pbkdf2-sha256$310000$%s$%s" % (GOOD_SALT + "==", GOOD_DK), "salt"),
    ("pbkdf2-sha256$310000$%s$%s" % (b64(b"\xfb\xff" * 8).replace("+", "-").replace("/", "_"), GOOD_DK),
     "salt"),
    ("pbkdf2-sha256$310000$%s$%s" % (" " + GOOD_SALT[1:], GOOD_DK), "salt"),
    ("pbkdf2-sha256$310000$%s$%s" % ("MDEyMzQ1Njc4OWFiY2RlZh==", GOOD_DK), "salt"),  # non-canonical bits
    ("pbkdf2-sha256$310000$$%s" % GOOD_DK, "salt_length"),
    ("pbkdf2-sha256$310000$%s$%s" % (b64(b"01234567"), GOOD_DK), "salt_length"),
    ("pbkdf2-sha256$310000$%s$%s" % (b64(bytes(15)), GOOD_DK), "salt_length"),
    ("pbkdf2-sha256$310000$%s$%s" % (b64(bytes(65)), GOOD_DK), "salt_length"),
    ("pbkdf2-sha256$310000$%s$%s" % (GOOD_SALT, GOOD_DK.rstrip("=")), "hash"),
    ("pbkdf2-sha256$310000$%s$%s" % (GOOD_SALT, "!" + GOOD_DK[1:]), "hash"),
    ("pbkdf2-sha256$310000$%s$" % GOOD_SALT, "hash_length"),
    ("pbkdf2-sha256$310000$%s$%s" % (GOOD_SALT, b64(bytes(31))), "hash_length"),
    ("pbkdf2-sha256$310000$%s$%s" % (GOOD_SALT, b64(bytes(33))), "hash_length"),
    ("pbkdf2-sha256$310000$%s$%s" % (GOOD_SALT, b64(bytes(64))), "hash_length"),
])
def test_malformed_hash_strings(encoded, reason):
    assert_reject(check(encoded, "pw"), reason)


def test_non_canonical_salt_really_is_the_same_bytes():
    """Self-check of the case above: a lenient decoder reads it as the good salt."""
    assert base64.b64decode("MDEyMzQ1Njc4OWFiY2RlZh==") == base64.b64decode(GOOD_SALT)
    assert "MDEyMzQ1Njc4OWFiY2RlZh==" != GOOD_SALT


def test_password_too_long(python_hash):
    assert_reject(check(python_hash, "x" * (PASSWORD_MAX + 1)), "too_long")
    encoded = make_hash("x" * PASSWORD_MAX)
    assert_ok(check(encoded, "x" * PASSWORD_MAX))


def test_password_may_start_with_dashes():
    encoded = make_hash("--not-an-option")
    assert_ok(check(encoded, "--not-an-option"))


def test_unicode_password():
    pw = "pässwörd-密码"
    encoded = "pbkdf2-sha256$%d$%s$%s" % (
        MIN_ITERATIONS, b64(b"0123456789abcdef"),
        b64(hashlib.pbkdf2_hmac("sha256", pw.encode(), b"0123456789abcdef", MIN_ITERATIONS)))
    assert_ok(check(encoded, pw))


def timed(*args):
    t0 = time.perf_counter()
    r = tool(*args)
    elapsed = time.perf_counter() - t0
    assert r.returncode in (0, 1), r
    return elapsed


def test_unknown_user_costs_what_a_wrong_password_costs(python_hash):
    """Not a benchmark: a coarse check that the dummy really runs PBKDF2 at
    the same cost (a dummy that returned at once would be ~100x faster)."""
    real, dummy = [], []
    for _ in range(3):
        real.append(timed("password-verify", "--", python_hash, "wrong"))
        dummy.append(timed("password-dummy", "--iterations", MIN_ITERATIONS, "--", "wrong"))
    ratio = statistics.median(dummy) / statistics.median(real)
    assert 0.5 < ratio < 2.0, (real, dummy)


def demo_users():
    users = DEMO / "secrets" / "users.json"
    creds = DEMO / "credentials.json"
    if not users.is_file() or not creds.is_file():
        pytest.skip("no demo identity at %s (the build generates it; or set BULWARK_DEMO)" % DEMO)
    return json.loads(users.read_text())["users"], json.loads(creds.read_text())


def test_demo_users_verify():
    users, creds = demo_users()
    assert {u["username"] for u in users} == set(creds)
    for u in users:
        assert u["password_hash"].startswith("pbkdf2-sha256$")
        assert_ok(check(u["password_hash"], creds[u["username"]]))
        assert_reject(check(u["password_hash"], creds[u["username"]] + "x"), "mismatch")


def test_demo_users_passwords_are_not_interchangeable():
    users, creds = demo_users()
    names = [u["username"] for u in users]
    for u, other in zip(users, names[1:] + names[:1]):
        assert_reject(check(u["password_hash"], creds[other]), "mismatch")
