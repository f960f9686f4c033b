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

from conftest import IMAGE_CLIENT_ADDRESS, TIME_SCALE, curl

HEADER_TIMEOUT_S = 10   # policy/default.yaml limits.header_timeout


def test_slow_headers_are_cut_off_after_10_s(image_server, demo):
    raw = socket.create_connection(("127.0.0.1", image_server.port), timeout=30 * TIME_SCALE)
    sock = ssl.create_default_context(cafile=demo.ca).wrap_socket(raw, server_hostname="localhost")
    start = time.monotonic()
    closed_at = None
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        # one byte of a header every 0.5 s: never a whole head
        while time.monotonic() - start < HEADER_TIMEOUT_S + 4 * TIME_SCALE:
            try:
                sock.sendall(b"X")
            except (ConnectionError, OSError):
                closed_at = time.monotonic()
                break
            sock.settimeout(0.5)
            try:
                if sock.recv(1024) == b"":
                    closed_at = time.monotonic()
                    break
            except (TimeoutError, OSError) as e:
                if "timed out" not in str(e):
                    closed_at = time.monotonic()
                    break
    finally:
        sock.close()
    took = None if closed_at is None else closed_at - start
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
