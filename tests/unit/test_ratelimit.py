"""The rate limiter of app/ratelimit/ through its C test driver
($BULWARK_RATELIMIT_TEST, else <repo>/build/tests/ratelimit_test_main, built
by `make binaries` from tests/unit/ratelimit_test_main.c and app/ratelimit/*.c).

The driver passes time in, so it checks exact numbers without sleeping:
GCRA exactness (100/min is a burst of 100, then one per 0.6 s), Retry-After,
atomic multi-limit checks (a refused request charges nothing), exactness
with 8 threads on one key, the memory bound under spoofed keys (never more
than max_keys, new keys refused with 429 until held ones recover, recovered
ones evicted, unrecovered ones kept), IPv6 /64 keys, and the RateLimit /
RateLimit-Policy values.  Its output is one FAIL line per failed check and a
final "N passed, N failed".
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(os.environ.get("BULWARK_RATELIMIT_TEST", REPO / "build" / "tests" / "ratelimit_test_main"))
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")
# the whole driver runs in about a second; generous for a loaded CI machine
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def driver_run():
    if not DRIVER.is_file():
        pytest.fail("rate-limit test driver not found at %s: build it (make binaries) "
                    "or set BULWARK_RATELIMIT_TEST" % DRIVER, pytrace=False)
    try:
        r = subprocess.run([str(DRIVER)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail("%s did not finish within %d s (a deadlock?)" % (DRIVER, TIMEOUT_S))
    return r


def test_driver_passes_every_check(driver_run):
    out = driver_run.stdout.decode("utf-8", "replace")
    lines = out.strip().splitlines()
    assert lines, "no output; stderr:\n%s" % driver_run.stderr.decode("utf-8", "replace")
    m = SUMMARY.match(lines[-1])
    assert m, "no summary line; output:\n%s" % out
    fails = [line for line in lines if line.startswith("FAIL")]
    assert int(m.group(2)) == 0 and not fails, "\n".join(fails)
    assert driver_run.returncode == 0, out


def test_driver_checks_something(driver_run):
    """A driver that silently skipped its checks would pass the test above."""
    m = SUMMARY.match(driver_run.stdout.decode().strip().splitlines()[-1])
    assert m and int(m.group(1)) >= 150, driver_run.stdout.decode()
