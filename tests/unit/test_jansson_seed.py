"""Jansson's hash seed (hash-flooding defence, CVE-2013-6401) comes from
getentropy(), not from jansson's clock-and-pid fallback
(deps/patches/jansson/0001-hash-seed-from-getentropy.patch).

The driver ($BULWARK_JANSSON_SEED_TEST, else build/tests/jansson_seed_main,
built by `make binaries`) seeds jansson as the service does and prints the
seed with the pid and the time just before and after. Without the patch the
seed is exactly sec ^ usec ^ pid for a usec inside that window (checked when
the patch was written: the unpatched build matched on every run).
"""

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(os.environ.get("BULWARK_JANSSON_SEED_TEST", REPO / "build" / "tests" / "jansson_seed_main"))
LIBJANSSON = REPO / "build" / "deps" / "jansson" / "lib" / "libjansson.a"
RUNS = 20
# the driver exits 2 when its time window spans a second boundary
WINDOW_RETRIES = 5


def run_driver():
    if not DRIVER.is_file():
        pytest.fail("jansson seed driver not found at %s: build it (make binaries) "
                    "or set BULWARK_JANSSON_SEED_TEST" % DRIVER, pytrace=False)
    for _ in range(WINDOW_RETRIES):
        r = subprocess.run([str(DRIVER)], stdout=subprocess.PIPE, timeout=30)
        if r.returncode == 0:
            seed, pid, sec, usec_before, usec_after = map(int, r.stdout.split())
            return seed, pid, sec, usec_before, usec_after
        assert r.returncode == 2, "driver failed with exit %d" % r.returncode
    pytest.fail("the driver's time window spanned a second boundary %d times" % WINDOW_RETRIES)


def test_seed_is_not_the_clock_and_pid():
    for _ in range(RUNS):
        seed, pid, sec, before, after = run_driver()
        guesses = {(sec ^ usec ^ pid) & 0xFFFFFFFF for usec in range(before, after + 1)}
        assert seed not in guesses, "seed %d is gettimeofday() ^ getpid(): CVE-2013-6401 fallback" % seed


def test_seeds_are_unrelated_across_processes():
    seeds = [run_driver()[0] for _ in range(RUNS)]
    assert len(set(seeds)) == RUNS, seeds


def test_seed_code_calls_getentropy():
    """The library as linked into bulwark, not just the driver."""
    if not LIBJANSSON.is_file():
        pytest.fail("%s not found: ./build.sh jansson" % LIBJANSSON, pytrace=False)
    out = subprocess.run(["nm", str(LIBJANSSON)], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    member = out.split("hashtable_seed.o:", 1)[1].split("\n\n", 1)[0]
    assert "U getentropy" in member, member
