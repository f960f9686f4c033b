"""The release folder the image stage writes (build/image): every file there,
SHA256SUMS covering exactly them, and /init being this build's bulwark,
stripped."""

import hashlib
import os
import re
import subprocess

from .conftest import IMAGE, REPO, release_file, require

RELEASE_FILES = ["System.map", "bulwark", "bzImage", "config", "disk.qcow2", "disk.raw",
                 "initramfs.cpio", "sbom.spdx.json", "secrets-demo.img", "vmlinux"]
BIN = os.environ.get("BULWARK_BIN") or os.path.join(REPO, "build", "bin", "bulwark")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sums():
    """SHA256SUMS as [(name, hex)], in file order."""
    entries = []
    with open(release_file("SHA256SUMS")) as f:
        for n, line in enumerate(f, 1):
            m = re.fullmatch(r"([0-9a-f]{64})  ([^/\s]+)\n", line)
            assert m, "SHA256SUMS:%d is not 'HASH  NAME': %r" % (n, line)
            entries.append((m.group(2), m.group(1)))
    return entries


def build_id(path):
    r = subprocess.run(["readelf", "-n", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    m = re.search(r"Build ID: ([0-9a-f]+)", r.stdout.decode())
    assert m, "%s has no build id" % path
    return m.group(1)


def test_every_release_file_is_there():
    for name in RELEASE_FILES:
        release_file(name)


def test_sha256sums_lists_every_file_sorted():
    names = [n for n, _ in sums()]
    assert names == sorted(names), "SHA256SUMS is not in name order: %s" % names
    on_disk = sorted(n for n in os.listdir(IMAGE)
                     if n != "SHA256SUMS" and os.path.isfile(os.path.join(IMAGE, n)))
    assert names == on_disk, "SHA256SUMS lists %s, %s holds %s" % (names, IMAGE, on_disk)
    assert set(RELEASE_FILES) <= set(names)


def test_sha256sums_match_the_files():
    wrong = ["%s: listed %s, is %s" % (n, h, sha256(os.path.join(IMAGE, n)))
             for n, h in sums() if sha256(os.path.join(IMAGE, n)) != h]
    assert not wrong, "\n".join(wrong)


def test_sha256sum_check_accepts_it():
    """The file works with the standard tool a user verifies a download with."""
    r = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=IMAGE,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert r.returncode == 0, r.stdout.decode()


def test_init_is_the_release_bulwark():
    with open(release_file("initramfs.cpio"), "rb") as f:
        r = subprocess.run(["cpio", "-i", "--to-stdout", "--quiet", "init"], stdin=f,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    with open(release_file("bulwark"), "rb") as f:
        assert r.stdout == f.read(), "the initramfs's /init is not build/image/bulwark"


def test_release_bulwark_is_stripped_build_of_bin_bulwark():
    rel = release_file("bulwark")
    out = subprocess.run(["readelf", "-S", "-W", rel], stdout=subprocess.PIPE,
                         timeout=30).stdout.decode()
    assert ".symtab" not in out and ".debug_info" not in out, "build/image/bulwark is not stripped"
    require(BIN, "bulwark binary", "build it with ./build.sh (or point BULWARK_BIN at the one "
            "the image was made from)")
    assert build_id(rel) == build_id(BIN), (
        "build/image/bulwark is not a stripped %s: the image is stale (./build.sh image)" % BIN)
