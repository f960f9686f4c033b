"""Proxy routes to HTTPS upstreams (policy/SCHEMA.md routes[].proxy.ca_file):
the appliance verifies the upstream like a browser would, against the CA
file on the secrets volume only: the chain must lead to it and the
certificate must name the upstream's host. Anything else is a sanitised
502, and nothing is sent to the unverified peer."""

import copy
import datetime
import http.server
import json
import os
import shutil
import ssl
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

from conftest import Server, curl, free_port
from policy_helpers import assert_error_body, assert_security_headers, policy_variant


def make_ca(name, path_length=0):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_leaf(ca_key, ca_cert, dns_name, out_dir, stem):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = os.path.join(out_dir, stem + ".crt"), os.path.join(out_dir, stem + ".key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


class Echo(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        Echo.seen.append(self.path)
        body = json.dumps({"path": self.path, "tls": True,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def https_upstream(cert, key):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def routes(entries, ca_file="upstream-ca.pem"):
    text = ""
    for path, upstream in entries:
        text += ("  - path: %s\n    methods: [GET]\n    proxy:\n      upstream: %s\n      ca_file: %s\n\n"
                 % (path, upstream, ca_file))
    return text


@pytest.fixture(scope="module")
def setup(bulwark_bin, demo, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("proxy-https"))
    ca_key, ca_cert = make_ca("Upstream Test CA")
    other_key, other_cert = make_ca("Some Other CA")
    good = https_upstream(*make_leaf(ca_key, ca_cert, "localhost", tmp, "good"))
    foreign = https_upstream(*make_leaf(other_key, other_cert, "localhost", tmp, "foreign"))
    secrets = os.path.join(tmp, "secrets")
    shutil.copytree(demo.secrets, secrets)
    with open(os.path.join(secrets, "upstream-ca.pem"), "wb") as f:
        f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    d = copy.copy(demo)
    d.secrets = secrets
    text = routes([
        ("/api/orders/{id}", "https://localhost:%d/v1/orders" % good.server_address[1]),
        # right CA, wrong name: the certificate says localhost
        ("/api/byip", "https://127.0.0.1:%d/" % good.server_address[1]),
        # the right name, a CA the route does not trust
        ("/api/foreign", "https://localhost:%d/" % foreign.server_address[1]),
    ])
    policy = policy_variant(tmp_path_factory.mktemp("proxy-https-policy"),
                            {"  - path: /api/admin/users/{id}": text + "  - path: /api/admin/users/{id}"})
    s = Server(bulwark_bin, d, policy=policy, http_hosts=()).start()
    yield s, d
    s.stop()
    good.shutdown()
    foreign.shutdown()


@pytest.mark.parametrize("proto", ["--http1.1", "--http2"])
def test_verified_https_upstream_is_proxied(setup, proto):
    s, d = setup
    r = curl(s.url("/api/orders/7?q=1"), proto, "-H", "X-Auth-Subject: admin", ca=d.ca)
    assert r.status == 200, r
    got = r.json()
    assert got["tls"] and got["path"] == "/v1/orders/7?q=1", got
    assert not [k for k in got["headers"] if k.startswith("x-auth-")], got
    assert_security_headers(r.headers, where="proxied over https")


@pytest.mark.parametrize("path,rid", [("/api/byip", "px-name"), ("/api/foreign", "px-ca")])
def test_unverified_upstream_is_a_sanitised_502(setup, path, rid):
    s, d = setup
    before = list(Echo.seen)
    r = curl(s.url(path), "-H", "X-Request-ID: " + rid, ca=d.ca)
    assert r.status == 502, r
    assert_error_body(r.json(), rid, "Bad gateway")
    assert b"127.0.0.1" not in r.body and b"certificate" not in r.body.lower(), r
    assert Echo.seen == before  # no request reached the unverified peer


def test_missing_upstream_ca_is_refused_at_start(bulwark_bin, demo, tmp_path):
    policy = policy_variant(tmp_path, {"  - path: /api/admin/users/{id}":
                                       routes([("/api/x", "https://localhost:%d/" % free_port())])
                                       + "  - path: /api/admin/users/{id}"})
    r = subprocess.run([bulwark_bin, "serve", "--https", "127.0.0.1:%d" % free_port(), "--secrets", demo.secrets,
                        "--policy", policy], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.count("\n") == 1, err
    assert "route /api/x: upstream CA: cannot read certificate" in err and "upstream-ca.pem" in err, err


def make_issuer(ca_key, ca_cert, name, basic_constraints):
    """A certificate from ca_key whose own key then signs a leaf: a real
    intermediate, or an end-entity certificate with the raw basicConstraints
    DER given (no KeyUsage, as many end-entity certificates have none)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
         .issuer_name(ca_cert.subject).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=30)))
    if basic_constraints is None:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    else:
        b = b.add_extension(x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, basic_constraints),
                            critical=True)
    return key, b.sign(ca_key, hashes.SHA256())


def chained_upstream(issuer_key, issuer_cert, out_dir, stem):
    """An HTTPS upstream for localhost whose leaf is signed by issuer_key,
    presenting the leaf and then issuer_cert."""
    cert_path, key_path = make_leaf(issuer_key, issuer_cert, "localhost", out_dir, stem)
    with open(cert_path, "ab") as f:
        f.write(issuer_cert.public_bytes(serialization.Encoding.PEM))
    return https_upstream(cert_path, key_path)


def test_end_entity_certificate_cannot_act_as_a_ca(bulwark_bin, demo, tmp_path):
    """CVE-2026-49300 (mbedTLS before 3.6.7): a basicConstraints that starts
    with an INTEGER (a path length, the cA field left out, so cA is FALSE)
    was read as cA = TRUE. Any holder of such an end-entity certificate from
    a route's CA could then sign a certificate for the upstream's name and
    impersonate it. The control: the same chain through a real intermediate
    is proxied, so the refusal is about the issuer's basicConstraints."""
    # no path length limit, so that an intermediate below the root is allowed at all
    ca_key, ca_cert = make_ca("Upstream CA Without Path Limit", path_length=None)
    inter_key, inter_cert = make_issuer(ca_key, ca_cert, "Real Intermediate", None)
    ee_key, ee_cert = make_issuer(ca_key, ca_cert, "some-other-service.example",
                                  b"\x30\x03\x02\x01\x01")  # SEQUENCE { INTEGER 1 }
    real = chained_upstream(inter_key, inter_cert, str(tmp_path), "via-intermediate")
    forged = chained_upstream(ee_key, ee_cert, str(tmp_path), "via-end-entity")
    try:
        secrets = str(tmp_path / "secrets")
        shutil.copytree(demo.secrets, secrets)
        with open(os.path.join(secrets, "upstream-ca2.pem"), "wb") as f:
            f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
        d = copy.copy(demo)
        d.secrets = secrets
        text = routes([("/api/real", "https://localhost:%d/" % real.server_address[1]),
                       ("/api/forged", "https://localhost:%d/" % forged.server_address[1])],
                      ca_file="upstream-ca2.pem")
        policy = policy_variant(tmp_path, {"  - path: /api/admin/users/{id}":
                                                      text + "  - path: /api/admin/users/{id}"})
        s = Server(bulwark_bin, d, policy=policy, http_hosts=()).start()
        try:
            r = curl(s.url("/api/real"), ca=d.ca)
            assert r.status == 200 and r.json()["tls"], r
            before = list(Echo.seen)
            r = curl(s.url("/api/forged"), "-H", "X-Request-ID: px-bc", ca=d.ca)
            assert r.status == 502, r
            assert_error_body(r.json(), "px-bc", "Bad gateway")
            assert Echo.seen == before  # nothing reached the impersonator
        finally:
            s.stop()
    finally:
        real.shutdown()
        forged.shutdown()

