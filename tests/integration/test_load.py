"""Load with h2load: many connections and concurrent streams, and not one
request may fail. h2load does not verify certificates; the other modules do."""

import re

import pytest

from conftest import curl, run

pytestmark = [pytest.mark.integration, pytest.mark.load,
              pytest.mark.native_only("h2load throughput: tens of thousands of requests from one address")]


def h2load(args, timeout=120):
    r = run(["h2load"] + args, timeout=timeout)
    out = r.stdout.decode("utf-8", "replace")
    return r.returncode, out + r.stderr.decode("utf-8", "replace")


def summary(out):
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    assert m, "no h2load summary in:\n" + out
    keys = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    s = dict(zip(keys, map(int, m.groups())))
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    assert m, "no status-code line in:\n" + out
    s["2xx"], s["3xx"], s["4xx"], s["5xx"] = map(int, m.groups())
    m = re.search(r"Application protocol: (\S+)", out)
    s["protocol"] = m.group(1) if m else None
    return s


def check(out, n, protocol):
    s = summary(out)
    assert "0 failed, 0 errored" in out, out
    assert s["succeeded"] == n and s["done"] == n and s["timeout"] == 0, out
    assert s["2xx"] == n, out
    assert s["protocol"] == protocol, out


def test_h2_load(server, demo):
    n = 20000
    rc, out = h2load(["-n", str(n), "-c", "200", "-m", "10", server.url("/healthz", "127.0.0.1")])
    check(out, n, "h2")
    assert rc == 0, out
    # Still healthy afterwards, and every request was logged.
    assert curl(server.url("/healthz"), ca=demo.ca).status == 200
    got = server.wait_count(lambda r: r.get("event") == "request"
                            and r.get("protocol") == "HTTP/2" and r.get("path") == "/healthz",
                            n, timeout=10)
    assert got >= n, "%d HTTP/2 access-log lines for %d requests" % (got, n)


def test_h1_load(server, demo):
    n = 10000
    rc, out = h2load(["--h1", "-n", str(n), "-c", "100", server.url("/healthz", "127.0.0.1")])
    check(out, n, "http/1.1")
    assert rc == 0, out
    assert curl(server.url("/healthz"), ca=demo.ca).status == 200


def test_summary_parser_sees_failures():
    # The parser must not wave a failed run through.
    bad = ("Application protocol: h2\nrequests: 100 total, 100 started, 100 done, "
           "90 succeeded, 10 failed, 10 errored, 0 timeout\n"
           "status codes: 90 2xx, 0 3xx, 0 4xx, 0 5xx\n")
    with pytest.raises(AssertionError):
        check(bad, 100, "h2")
