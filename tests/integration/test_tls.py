"""TLS policy: 1.2 and 1.3 only, ECDHE with AEAD only, groups X25519/P-256/
P-384, ALPN h2 and http/1.1.

Acceptance is checked with curl verifying the demo CA. Refusal is checked with
`openssl s_client` as a probe. A refusal test is only worth something if the
probe really offers what it claims to, and Debian's OpenSSL refuses TLS 1.0,
CBC-SHA1 and the like on the client side by default (security level 2). So the
probe lowers its own security level, and every refusal case is first run
against a control peer (`openssl s_server` configured to accept it) where it
must succeed: a probe that fails locally fails the control, not silently
passes the refusal."""

import os
import re
import subprocess
import time

import pytest

from conftest import Server, curl, free_port, run

pytestmark = pytest.mark.integration

# What the probe offers, and the s_client arguments that make it offer exactly that.
LOW = "@SECLEVEL=0"
REFUSED = {
    "tls1.0": ["-tls1", "-cipher", "ALL:" + LOW],
    "tls1.1": ["-tls1_1", "-cipher", "ALL:" + LOW],
    "cbc-sha1": ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:" + LOW],
    "cbc-sha256": ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256:" + LOW],
    "cbc-sha384": ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA384:" + LOW],
    "null-cipher": ["-tls1_2", "-cipher", "ECDHE-ECDSA-NULL-SHA:" + LOW],
    "ffdhe2048-tls13": ["-tls1_3", "-groups", "ffdhe2048"],
    "ffdhe3072-tls13": ["-tls1_3", "-groups", "ffdhe3072"],
    # The policy names exactly X25519, P-256 and P-384.
    "p521-tls13": ["-tls1_3", "-groups", "P-521"],
    "x448-tls13": ["-tls1_3", "-groups", "X448"],
}
# Suites that need an RSA certificate to be negotiable at all: the demo
# certificate is ECDSA, so these are probed against a server given an RSA one.
REFUSED_RSA = {
    "static-rsa-gcm": ["-tls1_2", "-cipher", "AES128-GCM-SHA256:" + LOW],
    "static-rsa-gcm384": ["-tls1_2", "-cipher", "AES256-GCM-SHA384:" + LOW],
    "dhe-rsa-gcm": ["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256:" + LOW],
    "static-rsa-cbc": ["-tls1_2", "-cipher", "AES128-SHA:" + LOW],
}
ACCEPTED = {
    "tls13-aes128gcm": (["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"], "TLSv1.3"),
    "tls13-aes256gcm": (["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"], "TLSv1.3"),
    "tls13-chacha": (["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"], "TLSv1.3"),
    "tls12-ecdsa-aes128gcm": (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], "TLSv1.2"),
    "tls12-ecdsa-aes256gcm": (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"], "TLSv1.2"),
    "tls12-ecdsa-chacha": (["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"], "TLSv1.2"),
    "tls13-x25519": (["-tls1_3", "-groups", "X25519"], "TLSv1.3"),
    "tls13-p256": (["-tls1_3", "-groups", "P-256"], "TLSv1.3"),
    "tls13-p384": (["-tls1_3", "-groups", "P-384"], "TLSv1.3"),
    # In TLS 1.2 the client's groups also bound the curve of an ECDSA
    # certificate (RFC 8422 §5.3), so with the P-256 demo certificate only a
    # list holding P-256 can work; other TLS 1.2 groups are probed against an
    # RSA certificate below.
    "tls12-p256": (["-tls1_2", "-groups", "P-256"], "TLSv1.2"),
}
TEMP_KEY = {"X25519": "X25519", "P-256": "prime256v1", "P-384": "secp384r1"}


class Probe:
    def __init__(self, r):
        self.rc = r.returncode
        self.out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
        m = re.search(r"^(?:New|Reused), (\S+), Cipher is (\S+)", self.out, re.M)
        self.protocol, self.cipher = (m.group(1), m.group(2)) if m else (None, None)
        m = re.search(r"^ALPN protocol: (\S+)", self.out, re.M)
        self.alpn = m.group(1) if m else None
        self.connected = "CONNECTED(" in self.out
        m = re.search(r"^(?:Server|Peer) Temp Key: (?:ECDH, )?([^,\s]+)", self.out, re.M)
        self.temp_key = m.group(1) if m else None

    @property
    def handshake_ok(self):
        # Judged by the negotiated cipher, not the exit code: s_client exits 1
        # when the server closes without close_notify after a good handshake.
        return self.cipher not in (None, "(NONE)")

    def __repr__(self):
        return "<s_client rc=%d protocol=%s cipher=%s alpn=%s>\n%s" % (
            self.rc, self.protocol, self.cipher, self.alpn, self.out[-3000:])


def probe(port, args, ca=None, servername="localhost"):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", servername]
    if ca:
        cmd += ["-CAfile", ca, "-verify_return_error"]
    return Probe(run(cmd + list(args), timeout=15, stdin=subprocess.DEVNULL))


def make_rsa_identity(d):
    key, cert = os.path.join(d, "rsa-key.pem"), os.path.join(d, "rsa-cert.pem")
    r = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
             "-out", cert, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
    assert r.returncode == 0, r.stderr
    return cert, key


class Control:
    """openssl s_server that accepts everything the probes offer."""

    def __init__(self, cert, key):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:%d" % self.port, "-cert", cert,
             "-key", key, "-cipher", "ALL:eNULL:" + LOW,
             "-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
             "TLS_CHACHA20_POLY1305_SHA256",
             "-groups", "X25519:P-256:P-384:P-521:X448:ffdhe2048:ffdhe3072", "-quiet"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        import socket
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline, \
                    "control s_server did not start"
                time.sleep(0.05)

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def rsa_identity(tmp_path_factory):
    return make_rsa_identity(str(tmp_path_factory.mktemp("rsa")))


@pytest.fixture(scope="module")
def control_ecdsa(demo):
    c = Control(demo.cert, demo.key)
    yield c
    c.close()


@pytest.fixture(scope="module")
def control_rsa(rsa_identity):
    c = Control(*rsa_identity)
    yield c
    c.close()


@pytest.fixture(scope="module")
def rsa_server(bulwark_bin, demo, rsa_identity):
    """bulwark with an RSA certificate, so that non-ECDHE RSA suites are
    negotiable in principle and their refusal means something."""
    cert, key = rsa_identity

    class RsaDemo:
        pass
    d = RsaDemo()
    d.ca, d.cert, d.key = cert, cert, key
    d.secrets = demo.secrets  # the JWT key and users the policy names
    s = Server(bulwark_bin, d, http_hosts=()).start()
    yield s
    s.stop()


# -- controls: the probe can do what the refusal tests claim it tries ------------

@pytest.mark.parametrize("case", sorted(REFUSED))
def test_probe_control_ecdsa(control_ecdsa, case):
    p = probe(control_ecdsa.port, REFUSED[case])
    assert p.handshake_ok, "the probe itself cannot negotiate %s: %r" % (case, p)


@pytest.mark.parametrize("case", sorted(REFUSED_RSA))
def test_probe_control_rsa(control_rsa, case):
    p = probe(control_rsa.port, REFUSED_RSA[case])
    assert p.handshake_ok, "the probe itself cannot negotiate %s: %r" % (case, p)


# -- refusals ----------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused(server, case):
    p = probe(server.port, REFUSED[case])
    assert p.connected, p
    assert not p.handshake_ok, "bulwark accepted %s: %r" % (case, p)


@pytest.mark.parametrize("case", sorted(REFUSED_RSA))
def test_refused_with_rsa_certificate(rsa_server, case):
    p = probe(rsa_server.port, REFUSED_RSA[case])
    assert p.connected, p
    assert not p.handshake_ok, "bulwark accepted %s: %r" % (case, p)


def test_rsa_certificate_serves_ecdhe_rsa(rsa_server, rsa_identity):
    # The positive side of the RSA refusals: ECDHE-RSA with AEAD works.
    p = probe(rsa_server.port, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
              ca=rsa_identity[0])
    assert p.handshake_ok and p.protocol == "TLSv1.2", p
    p = probe(rsa_server.port, ["-tls1_3"], ca=rsa_identity[0])
    assert p.handshake_ok and p.protocol == "TLSv1.3", p


def test_server_still_serves_after_refusals(server, demo):
    for case in sorted(REFUSED):
        probe(server.port, REFUSED[case])
    r = curl(server.url("/healthz"), ca=demo.ca)
    assert r.status == 200, r


# -- what is accepted ----------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_accepted(server, demo, case):
    args, proto = ACCEPTED[case]
    p = probe(server.port, args, ca=demo.ca)
    assert p.handshake_ok, p
    assert p.protocol == proto, p
    assert "Verify return code: 0 (ok)" in p.out, p
    if "-groups" in args:
        assert p.temp_key == TEMP_KEY[args[args.index("-groups") + 1]], p


@pytest.mark.parametrize("group", sorted(TEMP_KEY))
def test_tls12_groups_with_rsa_certificate(rsa_server, rsa_identity, group):
    p = probe(rsa_server.port, ["-tls1_2", "-groups", group], ca=rsa_identity[0])
    assert p.handshake_ok and p.protocol == "TLSv1.2", p
    assert p.temp_key == TEMP_KEY[group], p


@pytest.mark.parametrize("proto", ["--http1.1", "--http2"])
@pytest.mark.parametrize("tls,want", [
    (("--tlsv1.2", "--tls-max", "1.2"), "TLSv1.2"),
    (("--tlsv1.3",), "TLSv1.3"),
])
def test_curl_negotiates_tls_version(server, demo, proto, tls, want):
    r = curl(server.url("/healthz"), proto, *tls, ca=demo.ca)
    assert r.rc == 0 and r.status == 200, r
    m = re.search(r"SSL connection using (TLSv1\.\d)", r.verbose)
    assert m and m.group(1) == want, r
    assert r.version == ("2" if proto == "--http2" else "1.1"), r


# -- ALPN ------------------------------------------------------------------------------

@pytest.mark.parametrize("offer,want", [
    ("h2", "h2"),
    ("h2,http/1.1", "h2"),
    ("http/1.1,h2", "h2"),
    ("http/1.1", "http/1.1"),
])
def test_alpn(server, demo, offer, want):
    for tls in ("-tls1_2", "-tls1_3"):
        p = probe(server.port, [tls, "-alpn", offer], ca=demo.ca)
        assert p.handshake_ok, p
        assert p.alpn == want, p


def test_no_alpn_is_http11(server, demo):
    p = probe(server.port, ["-tls1_3"], ca=demo.ca)
    assert p.handshake_ok and p.alpn is None, p
    assert "No ALPN negotiated" in p.out, p
    r = curl(server.url("/healthz"), "--http1.1", "--no-alpn", ca=demo.ca)
    assert r.status == 200 and r.version == "1.1", r
    assert r.json() == {"status": "ok"}


def test_curl_alpn_selection(server, demo):
    r = curl(server.url("/healthz"), "--http2", ca=demo.ca)
    assert r.status == 200 and r.version == "2", r
    assert re.search(r"ALPN[:,] server accepted (to use )?h2", r.verbose), r
    r = curl(server.url("/healthz"), "--http1.1", ca=demo.ca)
    assert r.status == 200 and r.version == "1.1", r
    assert re.search(r"ALPN[:,] server accepted (to use )?http/1.1", r.verbose), r
