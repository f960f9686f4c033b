"""Static routes with a dir (policy/SCHEMA.md routes[].static.dir): h2o's
file handler below the route's literal prefix, behind the whole middleware
chain: index.html for a directory, content type by extension, no listing,
no way out of the directory, errors as JSON, the security headers on every
answer."""

import os

import pytest

from conftest import Server, curl, free_port
from policy_helpers import assert_error_body, assert_security_headers, h1_raw, h1_request, policy_variant

import subprocess

ROUTE = "  - path: /assets/*\n    methods: [GET]\n    static: {dir: %s}\n\n"


@pytest.fixture(scope="module")
def site(bulwark_bin, demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    www = root / "www"
    (www / "guide").mkdir(parents=True)
    (www / "index.html").write_text("<h1>docs</h1>\n")
    (www / "style.css").write_text("h1 { color: teal }\n")
    (www / "guide" / "index.html").write_text("<p>guide</p>\n")
    (www / "guide" / "notes.txt").write_text("notes\n")
    (www / "empty").mkdir()
    (root / "outside.txt").write_text("must not be served\n")
    policy = policy_variant(tmp_path_factory.mktemp("site-policy"),
                            {"  - path: /api/admin/users/{id}": ROUTE % www + "  - path: /api/admin/users/{id}"})
    s = Server(bulwark_bin, demo, policy=policy, http_hosts=()).start()
    yield s
    s.stop()


@pytest.mark.parametrize("proto", ["--http1.1", "--http2"])
def test_files_with_their_types(site, demo, proto):
    r = curl(site.url("/assets/style.css"), proto, ca=demo.ca)
    assert r.status == 200 and r.body == b"h1 { color: teal }\n", r
    assert r.header("content-type").startswith("text/css"), r
    assert_security_headers(r.headers, where="static file")
    r = curl(site.url("/assets/guide/notes.txt"), proto, ca=demo.ca)
    assert r.status == 200 and r.body == b"notes\n" and r.header("content-type").startswith("text/plain"), r


def test_directory_serves_its_index(site, demo):
    r = curl(site.url("/assets/"), ca=demo.ca)
    assert r.status == 200 and r.body == b"<h1>docs</h1>\n", r
    r = curl(site.url("/assets/guide/"), ca=demo.ca)
    assert r.status == 200 and r.body == b"<p>guide</p>\n", r


def test_missing_file_and_unlisted_directory_are_json_404(site, demo):
    for path in ("/assets/nope.html", "/assets/empty/"):
        r = curl(site.url(path), "-H", "X-Request-ID: st-404", ca=demo.ca)
        assert r.status == 404, (path, r)
        assert_error_body(r.json(), "st-404", "Not Found")
        assert b"empty" not in r.body


def test_dot_segments_cannot_leave_the_directory(site, demo):
    for target in ("/assets/../outside.txt", "/assets/%2e%2e/outside.txt", "/assets/guide/../../outside.txt"):
        r = h1_raw(site.port, demo.ca, h1_request("GET", target))
        assert b"must not be served" not in r.body, (target, r)
        assert r.status in (400, 404), (target, r)


def test_other_methods_are_405(site, demo):
    r = curl(site.url("/assets/style.css"), "-X", "POST", "-d", "x", ca=demo.ca)
    assert r.status == 405 and r.header("allow") == "GET, HEAD", r


def test_unreadable_dir_is_refused_at_start(bulwark_bin, demo, tmp_path):
    policy = policy_variant(tmp_path, {"  - path: /api/admin/users/{id}":
                                       ROUTE % (tmp_path / "missing") + "  - path: /api/admin/users/{id}"})
    r = subprocess.run([bulwark_bin, "serve", "--https", "127.0.0.1:%d" % free_port(), "--secrets", demo.secrets,
                        "--policy", policy], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 1 and "route /assets/*: static dir %s: No such file or directory" % (tmp_path / "missing") in err, err
