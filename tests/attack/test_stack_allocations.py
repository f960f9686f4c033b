"""Client-sized stack allocations (issue 6, CVE-2026-44453 class): a header
name, a Host or :authority, a request path as long as the client likes must
not size an alloca or a variable-length array. A worker thread has a 1 MiB
stack and stack-clash protection: an oversized frame is SIGSEGV, a remote
crash. Patch: deps/patches/h2o/0012.

The server runs with the largest limits the policy schema allows
(limits.max_request_line 64 KiB, limits.max_header_bytes 1 MiB), so that the
inputs reach h2o's code at their largest."""

import importlib.util
import os
import time

import pytest

from attacklib import (IO_TIMEOUT_S, h1_exchange, h1_request, h2_connect, headers_frame, healthz_latency, hpack_encoder,
                       request_block, response_status)

# stock_ok: stock h2o passes these too, only because it refuses a request
# head over ~408 KiB (400) and guards its alloca at 64 KiB; they fail on a
# build with 0004-0011 but not 0012 (the 1 MiB header name is SIGSEGV).
pytestmark = [pytest.mark.integration, pytest.mark.stock_ok]

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def load_suite_conftest():
    # by path: another directory's conftest.py may own the name "conftest"
    spec = importlib.util.spec_from_file_location("bulwark_suite_conftest", os.path.join(REPO, "tests", "conftest.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def big_limits_server(bulwark_bin, demo, tmp_path_factory):
    suite = load_suite_conftest()
    with open(suite.DEFAULT_POLICY) as f:
        text = f.read()
    assert "max_request_line: 8KiB" in text and "max_header_bytes: 16KiB" in text, "policy/default.yaml changed its limits"
    text = text.replace("max_request_line: 8KiB", "max_request_line: 64KiB").replace("max_header_bytes: 16KiB",
                                                                                       "max_header_bytes: 1MiB")
    policy = tmp_path_factory.mktemp("policy") / "big-limits.yaml"
    policy.write_text(text)
    s = suite.Server(bulwark_bin, demo, policy=str(policy)).start()
    yield s
    s.stop()


def assert_alive(server, demo, what):
    time.sleep(0.2)
    assert server.proc.poll() is None, "the server died (exit %r) after %s; stderr:\n%s" % (
        server.proc.returncode, what, server.stderr[-2000:])
    assert healthz_latency(server.port, demo.ca) is not None, "the server no longer answers after %s" % what


def test_huge_header_name(big_limits_server, demo):
    s = big_limits_server
    # the longest name the 1 MiB header limit lets through: a VLA that size
    # leaves nothing of a 1 MiB stack
    raw = h1_request("GET", "/healthz")[:-2] + b"X" * (1024 * 1024 - 64) + b": v\r\n\r\n"
    r = h1_exchange(s.port, demo.ca, raw, timeout=10)
    print("1 MiB header name: %r" % r)
    assert_alive(s, demo, "a 1 MiB header name")
    assert r.status in (200, 400, 431), r


def test_huge_host(big_limits_server, demo):
    s = big_limits_server
    r = h1_exchange(s.port, demo.ca, h1_request("GET", "/healthz", host="a" * 60000), timeout=10)
    print("60 KB Host: %r" % r)
    assert_alive(s, demo, "a 60 KB Host header")
    assert r.status == 400, r


def test_huge_authority_h2(big_limits_server, demo):
    s = big_limits_server
    sock, reader = h2_connect(s.port, demo.ca)
    try:
        sock.sendall(headers_frame(1, request_block(hpack_encoder(), authority="b" * 12000)))
        status = response_status(reader, 1)
    finally:
        sock.close()
    print("12 KB :authority: %r" % status)
    assert_alive(s, demo, "a 12 KB :authority")
    assert status == "400", status


def test_huge_path(big_limits_server, demo):
    s = big_limits_server
    r = h1_exchange(s.port, demo.ca, h1_request("GET", "/" + "p" * 60000), timeout=10)
    print("60 KB path: %r" % r)
    assert_alive(s, demo, "a 60 KB path")
    assert r.status in (404, 414), r
