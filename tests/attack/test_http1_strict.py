"""HTTP/1.1 strictness (DEFAULT-POLICY.md "Input limits"): every request a
lenient parser and a strict one could read differently gets 400 and the
connection closed; a request line over 8 KiB gets 414, headers over 16 KiB
get 431. Patches: deps/patches/h2o/0004 (framing), 0005 (syntax), 0006
(sizes).

Each malformed request has a well-formed twin that must be answered without
400 on a connection that stays open, so a 400 is seen to come from the flaw
itself and not from something else about the request."""

import pytest

from attacklib import h1_exchange, h1_request

pytestmark = pytest.mark.integration

GOOD = h1_request("GET", "/healthz")


def chunked_post(body, extra=(), version="HTTP/1.1"):
    return h1_request("POST", "/healthz", [("Transfer-Encoding", "chunked")] + list(extra),
                      body=body, version=version)


# name -> (malformed request, its well-formed twin)
MALFORMED = {
    # line endings and folding (0005)
    "bare_lf_request_line": (b"GET /healthz HTTP/1.1\nHost: localhost\r\n\r\n", GOOD),
    "bare_lf_header_line": (b"GET /healthz HTTP/1.1\r\nHost: localhost\nX-A: b\r\n\r\n", GOOD),
    "bare_lf_end_of_headers": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\n", GOOD),
    "obs_fold": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n b\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a b\r\n\r\n"),
    "obs_fold_tab": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n\tb\r\n\r\n", GOOD),
    "double_space_request_line": (b"GET  /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", GOOD),
    "raw_8bit_in_target": (b"GET /healthz\xff HTTP/1.1\r\nHost: localhost\r\n\r\n",
                           b"GET /healthz%FF HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    "non_token_method": (b"GE(T /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", GOOD),
    # invalid header names and values (refused by stock h2o already; kept refused)
    "nul_in_value": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\n\r\n", GOOD),
    "cr_in_value": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n", GOOD),
    "ctl_in_value": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\x01b\r\n\r\n", GOOD),
    "space_in_name": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX A: b\r\n\r\n", GOOD),
    "space_before_colon": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A : b\r\n\r\n", GOOD),
    "separator_in_name": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX(A): b\r\n\r\n", GOOD),
    "empty_name": (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n: b\r\n\r\n", GOOD),
    # framing (0004)
    "cl_and_te": (h1_request("POST", "/healthz", [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
                             body=b"0\r\n\r\n"),
                  chunked_post(b"0\r\n\r\n")),
    "te_and_cl": (h1_request("POST", "/healthz", [("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
                             body=b"0\r\n\r\n"),
                  chunked_post(b"0\r\n\r\n")),
    "differing_content_length": (h1_request("POST", "/healthz", [("Content-Length", "5"), ("Content-Length", "6")],
                                            body=b"hello!"),
                                 h1_request("POST", "/healthz", [("Content-Length", "6"), ("Content-Length", "6")],
                                            body=b"hello!")),
    "content_length_list": (h1_request("POST", "/healthz", [("Content-Length", "5, 5")], body=b"hello"),
                            h1_request("POST", "/healthz", [("Content-Length", "5")], body=b"hello")),
    "te_gzip": (h1_request("POST", "/healthz", [("Transfer-Encoding", "gzip")], body=b"0\r\n\r\n"),
                chunked_post(b"0\r\n\r\n")),
    "te_gzip_chunked": (h1_request("POST", "/healthz", [("Transfer-Encoding", "gzip, chunked")], body=b"0\r\n\r\n"),
                        chunked_post(b"0\r\n\r\n")),
    "te_identity": (h1_request("POST", "/healthz", [("Transfer-Encoding", "identity")], body=b"0\r\n\r\n"),
                    chunked_post(b"0\r\n\r\n")),
    "te_repeated": (h1_request("POST", "/healthz", [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
                               body=b"0\r\n\r\n"),
                    chunked_post(b"0\r\n\r\n")),
    "te_identity_then_chunked": (h1_request("POST", "/healthz", [("Transfer-Encoding", "identity"),
                                                                  ("Transfer-Encoding", "chunked")],
                                            body=b"0\r\n\r\n"),
                                 chunked_post(b"0\r\n\r\n")),
    "te_in_http10": (chunked_post(b"0\r\n\r\n", version="HTTP/1.0"), chunked_post(b"0\r\n\r\n")),
    # chunked bodies (0004)
    "chunk_size_0x": (chunked_post(b"0x5\r\nhello\r\n0\r\n\r\n"), chunked_post(b"5\r\nhello\r\n0\r\n\r\n")),
    "chunk_size_space_digit": (chunked_post(b"5 5\r\nhello\r\n0\r\n\r\n"), chunked_post(b"5\r\nhello\r\n0\r\n\r\n")),
    "chunk_size_trailing_space": (chunked_post(b"5 \r\nhello\r\n0\r\n\r\n"),
                                  chunked_post(b"5 ;a=b\r\nhello\r\n0\r\n\r\n")),
    "chunk_size_negative": (chunked_post(b"-5\r\nhello\r\n0\r\n\r\n"), chunked_post(b"5\r\nhello\r\n0\r\n\r\n")),
    "chunk_size_overflow": (chunked_post(b"10000000000000005\r\nhello\r\n0\r\n\r\n"),
                            chunked_post(b"0000000000000005\r\nhello\r\n0\r\n\r\n")),
    "chunk_size_bare_lf": (chunked_post(b"5\nhello\r\n0\r\n\r\n"), chunked_post(b"5\r\nhello\r\n0\r\n\r\n")),
    "chunk_data_bare_lf": (chunked_post(b"5\r\nhello\n0\r\n\r\n"), chunked_post(b"5\r\nhello\r\n0\r\n\r\n")),
    "chunk_data_extra_cr": (chunked_post(b"5\r\nhello\r\r\n0\r\n\r\n"), chunked_post(b"5\r\nhello\r\n0\r\n\r\n")),
    "chunk_data_no_crlf": (chunked_post(b"5\r\nhelloXX0\r\n\r\n"), chunked_post(b"5\r\nhello\r\n0\r\n\r\n")),
    "chunk_ext_nul": (chunked_post(b"5;a\x00b\r\nhello\r\n0\r\n\r\n"), chunked_post(b"5;ab\r\nhello\r\n0\r\n\r\n")),
    "chunk_ext_over_4k": (chunked_post(b"5;" + b"a" * 4200 + b"\r\nhello\r\n0\r\n\r\n"),
                          chunked_post(b"5;" + b"a" * 4000 + b"\r\nhello\r\n0\r\n\r\n")),
    "last_chunk_bare_lf": (chunked_post(b"5\r\nhello\r\n0\r\n\n"), chunked_post(b"5\r\nhello\r\n0\r\n\r\n")),
    "trailer_obs_fold": (chunked_post(b"0\r\nX-T: a\r\n b\r\n\r\n"), chunked_post(b"0\r\nX-T: a b\r\n\r\n")),
    "trailer_bare_lf": (chunked_post(b"0\r\nX-T: a\n\r\n"), chunked_post(b"0\r\nX-T: a\r\n\r\n")),
}


# Refused by stock h2o 2.2.5 too (tests/attack/unpatched.sh checks that they
# pass on the unpatched build): regression tests for rules it already had.
# picohttpparser refuses control characters in values, non-token names,
# SP before the colon, an empty name and an empty target; h2o takes no
# Transfer-Encoding but "chunked" and no Content-Length that is not one
# number; the chunked decoder refuses a size that is not hex or overflows,
# and chunk data followed by neither CR nor LF ends up as a malformed size.
STOCK_OK = {"chunk_data_no_crlf", "chunk_size_negative", "chunk_size_overflow", "content_length_list", "cr_in_value",
            "ctl_in_value", "double_space_request_line", "empty_name", "nul_in_value", "separator_in_name",
            "space_before_colon", "space_in_name", "te_gzip", "te_gzip_chunked", "te_identity"}


def cases(names, stock_ok):
    """parametrize values: the names in stock_ok carry the stock_ok marker"""
    return [pytest.param(n, marks=pytest.mark.stock_ok) if n in stock_ok else n for n in sorted(names)]


def assert_refused(server, demo, raw, status=400):
    r = h1_exchange(server.port, demo.ca, raw)
    assert r.status == status, "expected %d, got %r" % (status, r)
    assert r.closed, "the connection stayed open after %d: %r" % (status, r)


@pytest.mark.parametrize("name", cases(MALFORMED, STOCK_OK))
def test_malformed_request_refused(server, demo, name):
    bad, good = MALFORMED[name]
    control = h1_exchange(server.port, demo.ca, good)
    assert control.status not in (0, 400), "the well-formed twin was refused: %r" % control
    assert not control.closed, "the well-formed twin's connection was closed: %r" % control
    assert_refused(server, demo, bad)


def test_chunk_extensions_total_is_bounded(server, demo):
    """Many chunks, each with an extension just under 4 KiB, are fine; one
    over 4 KiB is not, wherever it comes."""
    ext = b";" + b"e" * 4000
    body = b"".join(b"1" + ext + b"\r\nx\r\n" for _ in range(20)) + b"0\r\n\r\n"
    control = h1_exchange(server.port, demo.ca, chunked_post(body))
    assert control.status not in (0, 400), control
    body = b"".join(b"1" + ext + b"\r\nx\r\n" for _ in range(19)) + b"1;" + b"e" * 5000 + b"\r\nx\r\n0\r\n\r\n"
    assert_refused(server, demo, chunked_post(body))


def test_request_line_too_long(server, demo):
    ok = h1_exchange(server.port, demo.ca, h1_request("GET", "/" + "a" * 8000))
    assert ok.status not in (0, 400, 414), ok
    assert_refused(server, demo, h1_request("GET", "/" + "a" * 8300), status=414)
    # incomplete: no end of line yet, but already over the limit
    assert_refused(server, demo, b"GET /" + b"a" * 9000, status=414)


def test_headers_too_large(server, demo):
    ok = h1_exchange(server.port, demo.ca, h1_request("GET", "/healthz", [("X-F%d" % i, "v" * 1400) for i in range(10)]))
    assert ok.status == 200, ok
    big = [("X-F%d" % i, "v" * 1700) for i in range(10)]
    assert_refused(server, demo, h1_request("GET", "/healthz", big), status=431)
    # incomplete: headers still coming, already over the limit
    assert_refused(server, demo, h1_request("GET", "/healthz", big)[:-2], status=431)


def test_too_many_headers(server, demo):
    ok = h1_exchange(server.port, demo.ca, h1_request("GET", "/healthz", [("X-F%d" % i, "v") for i in range(90)]))
    assert ok.status == 200, ok
    assert_refused(server, demo, h1_request("GET", "/healthz", [("X-F%d" % i, "v") for i in range(120)]), status=431)
