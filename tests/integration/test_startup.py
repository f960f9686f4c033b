"""The command line, and bad start-up input: one line on stderr starting
"bulwark: error: " that names the file or address, a non-zero exit, never a
crash (a negative return code is death by signal) and never a core file."""

import os
import shutil
import tempfile
import socket
import subprocess

import pytest

from conftest import free_port, run

pytestmark = pytest.mark.integration

PREFIX = "bulwark: error: "


# -- the command line ------------------------------------------------------------

def test_version(bulwark_bin):
    r = run([bulwark_bin, "version"])
    assert r.returncode == 0, r
    out = r.stdout.decode().strip()
    assert out.startswith("bulwark ") and len(out.split()) == 2, out
    assert out.split()[1].strip(), out


@pytest.mark.parametrize("args", [[], ["--help"], ["-h"]])
def test_usage_exits_2(bulwark_bin, args):
    r = run([bulwark_bin] + args)
    assert r.returncode == 2, r
    text = (r.stdout + r.stderr).decode()
    assert "usage" in text.lower() and "serve" in text, text


@pytest.mark.parametrize("args", [["frobnicate"], ["serve"], ["serve", "--https"],
                                  ["serve", "--bogus-flag", "x"]])
def test_bad_command_line_fails_cleanly(bulwark_bin, args):
    r = run([bulwark_bin] + args)
    assert r.returncode > 0, r
    text = (r.stdout + r.stderr).decode()
    assert text.strip(), "no word on why it failed"
    assert "listening" not in r.stdout.decode()


# -- bad start-up input -------------------------------------------------------------

def start_fails(bulwark_bin, demo, cwd, https=None, http=None, cert=None, key=None):
    https = https if https is not None else ["127.0.0.1:%d" % free_port()]
    argv = [bulwark_bin, "serve"]
    for a in https:
        argv += ["--https", a]
    for a in http or []:
        argv += ["--http", a]
    argv += ["--cert", cert or demo.cert, "--key", key or demo.key, "--threads", "1"]
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail("bulwark kept running on bad input %r; stdout:\n%s" % (argv, out.decode()))
    out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    assert p.returncode > 0, "exit %d (negative: killed by a signal) for %r; stderr:\n%s" % (
        p.returncode, argv, err)
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, "want exactly one stderr line, got:\n%s" % err
    assert lines[0].startswith(PREFIX), lines[0]
    assert '"listening"' not in out, out
    cores = [f for f in os.listdir(cwd) if f.startswith("core")]
    assert not cores, "core dump left behind: %r" % cores
    return lines[0]


@pytest.fixture
def cwd(tmp_path):
    d = tmp_path / "cwd"
    d.mkdir()
    return str(d)


def openssl(*args):
    r = run(["openssl"] + list(args))
    assert r.returncode == 0, r.stderr.decode()


def test_missing_cert(bulwark_bin, demo, tmp_path, cwd):
    f = str(tmp_path / "no-such-cert.pem")
    assert f in start_fails(bulwark_bin, demo, cwd, cert=f)


def test_unreadable_cert_directory(bulwark_bin, demo, tmp_path, cwd):
    # chmod 000 does not stop root, and the suite runs as root in CI; a
    # directory cannot be read as a certificate by anyone, root included.
    f = tmp_path / "cert-dir.pem"
    f.mkdir()
    assert str(f) in start_fails(bulwark_bin, demo, cwd, cert=str(f))


def test_unreadable_cert_mode_000(bulwark_bin, demo, cwd):
    # Root reads mode-000 files, so as root the server runs as nobody: the
    # key is readable to it and only the certificate's mode stands in the way.
    d = tempfile.mkdtemp(prefix="bulwark-000-")
    try:
        os.chmod(d, 0o755)
        cert, key = os.path.join(d, "cert-000.pem"), os.path.join(d, "key.pem")
        shutil.copyfile(demo.cert, cert)
        shutil.copyfile(demo.key, key)
        os.chmod(cert, 0)
        os.chmod(key, 0o644)
        argv = [bulwark_bin, "serve", "--https", "127.0.0.1:%d" % free_port(),
                "--cert", cert, "--key", key, "--threads", "1"]
        drop = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}
        p = subprocess.run(argv, cwd=d, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10, **drop)
        err = [l for l in p.stderr.decode("utf-8", "replace").splitlines() if l.strip()]
        assert p.returncode > 0, p.stderr
        assert len(err) == 1 and err[0].startswith(PREFIX), err
        assert cert in err[0] and "ermission denied" in err[0], err[0]
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("content", [
    b"this is not a certificate\n",
    b"",
    bytes(range(256)) * 4,
    b"-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
], ids=["text", "empty", "binary", "bad-pem-body"])
def test_garbage_cert(bulwark_bin, demo, tmp_path, cwd, content):
    f = tmp_path / "garbage-cert.pem"
    f.write_bytes(content)
    assert str(f) in start_fails(bulwark_bin, demo, cwd, cert=str(f))


def test_key_given_as_cert(bulwark_bin, demo, cwd):
    assert demo.key in start_fails(bulwark_bin, demo, cwd, cert=demo.key)


def test_missing_key(bulwark_bin, demo, tmp_path, cwd):
    f = str(tmp_path / "no-such-key.pem")
    assert f in start_fails(bulwark_bin, demo, cwd, key=f)


def test_unreadable_key_directory(bulwark_bin, demo, tmp_path, cwd):
    f = tmp_path / "key-dir.pem"
    f.mkdir()
    assert str(f) in start_fails(bulwark_bin, demo, cwd, key=str(f))


def test_garbage_key(bulwark_bin, demo, tmp_path, cwd):
    f = tmp_path / "garbage-key.pem"
    f.write_bytes(b"-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n")
    assert str(f) in start_fails(bulwark_bin, demo, cwd, key=str(f))


def test_key_not_matching_cert(bulwark_bin, demo, tmp_path, cwd):
    f = str(tmp_path / "other-key.pem")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f)
    line = start_fails(bulwark_bin, demo, cwd, key=f)
    assert f in line, line


def test_encrypted_key(bulwark_bin, demo, tmp_path, cwd):
    f = str(tmp_path / "encrypted-key.pem")
    openssl("pkey", "-in", demo.key, "-aes256", "-passout", "pass:x", "-out", f)
    assert "ENCRYPTED" in open(f).read()
    line = start_fails(bulwark_bin, demo, cwd, key=f)
    assert f in line, line


@pytest.mark.parametrize("kind", ["https", "http"])
def test_port_in_use(bulwark_bin, demo, cwd, kind):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    addr = "127.0.0.1:%d" % blocker.getsockname()[1]
    try:
        if kind == "https":
            line = start_fails(bulwark_bin, demo, cwd, https=[addr])
        else:
            line = start_fails(bulwark_bin, demo, cwd, http=[addr])
    finally:
        blocker.close()
    assert addr in line, line


def test_second_https_port_in_use(bulwark_bin, demo, cwd):
    # The first listener binds fine; the second fails: still one line, exit > 0.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    addr = "127.0.0.1:%d" % blocker.getsockname()[1]
    try:
        line = start_fails(bulwark_bin, demo, cwd,
                           https=["127.0.0.1:%d" % free_port(), addr])
    finally:
        blocker.close()
    assert addr in line, line


BAD_ADDRESSES = ["nonsense", "127.0.0.1:99999", "1.2.3:80", "127.0.0.1", "127.0.0.1:",
                 ":8443", "256.1.1.1:80", "[::1]", "::1:8443", "127.0.0.1:-1",
                 "127.0.0.1:80a", "localhost:8443x"]


@pytest.mark.parametrize("addr", BAD_ADDRESSES)
def test_bad_https_address(bulwark_bin, demo, cwd, addr):
    line = start_fails(bulwark_bin, demo, cwd, https=[addr])
    assert addr in line, line


@pytest.mark.parametrize("addr", ["nonsense", "127.0.0.1:99999", "1.2.3:80"])
def test_bad_http_address(bulwark_bin, demo, cwd, addr):
    line = start_fails(bulwark_bin, demo, cwd, http=[addr])
    assert addr in line, line
