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
from cryptography.x509.oid import NameOID

from conftest import Server, curl, free_port
from policy_helpers import assert_error_body, assert_security_headers, policy_variant


def make_ca(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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


def routes(entries):
    text = ""
    for path, upstream in entries:
        text += ("  - path: %s\n    methods: [GET]\n    proxy:\n      upstream: %s\n      ca_file: upstream-ca.pem\n\n"
                 % (path, upstream))
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
