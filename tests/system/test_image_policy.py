"""DEFAULT-POLICY.md on the booted release image, beyond what the
integration and attack tests show there.

`make test-image` runs the tests of the default policy's server against the
release image booted once under QEMU (BULWARK_TARGET=image, the selection in
tests/system/image-policy.txt; tests/README.md). These tests are the
image's own (they ask for `image_server` and run only in that mode):

- a client that sends its headers too slowly is cut off after the default
  policy's 10 s (the integration suite shows the mechanism natively with a
  1 s policy, which the image cannot be given);
- every client is one address to the guest (QEMU user networking): why the
  tests that need distinct client addresses stay native-only.
"""

import socket
import ssl
import time

from conftest import IMAGE_CLIENT_ADDRESS, TIME_SCALE, curl, dribble_until_closed

HEADER_TIMEOUT_S = 10   # policy/default.yaml limits.header_timeout


def test_slow_headers_are_cut_off_after_10_s(image_server, demo):
    raw = socket.create_connection(("127.0.0.1", image_server.port), timeout=30 * TIME_SCALE)
    sock = ssl.create_default_context(cafile=demo.ca).wrap_socket(raw, server_hostname="localhost")
    # one byte of a header every 0.5 s: never a whole head
    took = dribble_until_closed(sock, 0.5, HEADER_TIMEOUT_S + 4 * TIME_SCALE)
    assert took is not None, "a client dribbling its headers was never cut off"
    print("cut off after %.1f s" % took)
    # never before the limit; after it, as soon as a loaded TCG guest gets to it
    assert HEADER_TIMEOUT_S - 0.5 <= took <= HEADER_TIMEOUT_S + 2 * TIME_SCALE, "cut off after %.1f s" % took


def test_every_client_is_one_address_to_the_guest(image_server, demo):
    image_server.wait_for_budget(5)
    for n, source in enumerate(("127.0.0.1", "127.66.0.1")):
        rid = "image-client-%d" % n
        r = curl(image_server.url("/nope"), "--interface", source, "-H", "X-Request-ID: " + rid, ca=demo.ca)
        assert r.status == 404, r
        assert image_server.request_record(rid)["client"] == IMAGE_CLIENT_ADDRESS


# Date has whole seconds and the guest reads its RTC at boot in whole
# seconds; well inside the tokens' 30 s leeway, well outside rounding (a
# guest on jiffies was 70 s behind after ten minutes).
CLOCK_TOLERANCE_S = 10


def test_guest_clock_keeps_time(image_server, demo):
    """The guest's clock against the host's, through the Date field of
    /healthz (exempt from the limits): every token check (exp, nbf with a
    30 s leeway) and the rate limits run on it. Under TCG on a busy host a
    guest whose TSC was marked unstable ran on jiffies and fell minutes
    behind within a session (qemu/run, tcg_tsc_khz). Listed last in
    image-policy.txt: it then covers the whole session."""
    import email.utils
    before = time.time()
    r = curl(image_server.url("/healthz"), ca=demo.ca)
    after = time.time()
    assert r.status == 200, r
    guest = email.utils.parsedate_to_datetime(r.header("date")).timestamp()
    print("guest clock - host clock: %+.1f s after %.0f s of session" % (
        guest - before, time.monotonic() - image_server.booted_at))
    assert before - CLOCK_TOLERANCE_S <= guest <= after + CLOCK_TOLERANCE_S, (
        "the guest's clock is %+.0f s off the host's" % (guest - before))
