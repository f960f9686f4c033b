"""deps/fetch fails closed: a tampered cache, a broken lock, an unknown
component and a missing file with no network each stop it with one clear
line; an intact cache verifies and unpacks offline.

Every test works on a private cache (BULWARK_CACHE=tmp) seeded from the real
one, with BULWARK_MIRROR pointed at a closed local port, so nothing here
touches the network or the real cache."""

import hashlib
import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO, run

pytestmark = pytest.mark.unit

FETCH = os.path.join(REPO, "deps", "fetch")
LOCK = os.path.join(REPO, "deps", "sources.lock")
DEAD_MIRROR = "http://127.0.0.1:9"  # discard port, nothing listens: any download fails at once
SMALL = "libyaml"                    # the component the tamper tests copy and unpack


def parse_lock(path=LOCK):
    comps, cur = {}, None
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            if line[0] == "component":
                cur = comps[line[1]] = []
            elif line[0] == "file":
                cur.append({"sha256": line[1], "size": int(line[2]), "name": line[3]})
    return comps


def real_cache():
    base = os.environ.get("BULWARK_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                           "bulwark")
    return os.path.join(base, "sources")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fetch(*args, cache, lock=None, mirror=DEAD_MIRROR, timeout=120):
    env = dict(os.environ, BULWARK_CACHE=cache, BULWARK_MIRROR=mirror)
    if lock:
        env["BULWARK_LOCK"] = lock
    else:
        env.pop("BULWARK_LOCK", None)
    r = run([FETCH] + list(args), timeout=timeout, env=env, cwd=REPO)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def error_lines(err):
    return [l for l in err.splitlines() if l.strip()]


@pytest.fixture(scope="session")
def lock():
    if not os.path.isfile(FETCH) or not os.access(FETCH, os.X_OK):
        pytest.fail("%s missing or not executable" % FETCH, pytrace=False)
    comps = parse_lock()
    assert SMALL in comps, "the lock has no %s component" % SMALL
    return comps


@pytest.fixture(scope="session")
def populated_real_cache(lock):
    """The real cache holds every locked file: a warm cache is only verified;
    a cold one is filled through the configured mirror (as the build would)."""
    missing = [c for c, files in lock.items()
               if not all(os.path.isfile(os.path.join(real_cache(), c, f["name"]))
                          for f in files)]
    if missing:
        r = run([FETCH] + missing, timeout=600, cwd=REPO)
        if r.returncode != 0:
            pytest.fail("the real source cache %s lacks %s and deps/fetch could not fill it:\n%s"
                        % (real_cache(), ", ".join(missing), r.stderr.decode()), pytrace=False)
    return real_cache()


def seed(dst_root, src_root, comps, copy):
    """Seed dst_root/sources/COMP from the real cache: copies for files a test
    may alter, hard links (or copies across file systems) otherwise."""
    for c in comps:
        d = os.path.join(dst_root, "sources", c)
        os.makedirs(d, exist_ok=True)
        for name in os.listdir(os.path.join(src_root, c)):
            if name.startswith("."):
                continue
            src, dst = os.path.join(src_root, c, name), os.path.join(d, name)
            if copy:
                shutil.copyfile(src, dst)
            else:
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copyfile(src, dst)
    return dst_root


@pytest.fixture
def small_cache(tmp_path, populated_real_cache):
    return seed(str(tmp_path / "cache"), populated_real_cache, [SMALL], copy=True)


@pytest.fixture
def full_cache(tmp_path, populated_real_cache, lock):
    return seed(str(tmp_path / "cache"), populated_real_cache, list(lock), copy=False)


# -- (1) a tampered file stops fetch and unpack -----------------------------------------

def tamper_flip(path):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        i = len(data) // 2
        data[i] ^= 0x01
        f.seek(0)
        f.write(data)


def tamper_append(path):
    with open(path, "ab") as f:
        f.write(b"\n")


@pytest.mark.parametrize("kind", [".dsc", ".orig.tar", ".debian.tar"])
@pytest.mark.parametrize("tamper", [tamper_flip, tamper_append], ids=["flip", "append"])
def test_tampered_file_fails_closed(lock, small_cache, tmp_path, kind, tamper):
    entry = next(f for f in lock[SMALL] if kind in f["name"] and not f["name"].endswith(".asc"))
    path = os.path.join(small_cache, "sources", SMALL, entry["name"])
    assert sha256(path) == entry["sha256"], "the seeded copy should start intact"
    tamper(path)
    actual = sha256(path)

    rc, _, err = fetch(SMALL, cache=small_cache)
    assert rc != 0, "deps/fetch accepted a tampered %s" % entry["name"]
    lines = error_lines(err)
    assert len(lines) == 1, "want one line, got:\n" + err
    assert entry["name"] in lines[0], lines[0]
    assert entry["sha256"] in lines[0], "expected hash missing: " + lines[0]
    assert actual in lines[0], "actual hash missing: " + lines[0]

    dest = str(tmp_path / "unpacked")
    rc, _, err = fetch("--unpack", SMALL, dest, cache=small_cache)
    assert rc != 0, "deps/fetch --unpack unpacked a tampered %s" % entry["name"]
    assert entry["name"] in err and actual in err, err
    assert not os.path.exists(dest) or not os.listdir(dest), \
        "something was unpacked: %r" % os.listdir(dest)


def test_tampered_file_in_full_run_fails(lock, full_cache):
    # Break the copy, not the hard link to the real cache.
    entry = lock[SMALL][0]
    path = os.path.join(full_cache, "sources", SMALL, entry["name"])
    os.unlink(path)
    shutil.copyfile(os.path.join(real_cache(), SMALL, entry["name"]), path)
    tamper_flip(path)
    rc, _, err = fetch(cache=full_cache)
    assert rc != 0 and entry["name"] in err and entry["sha256"] in err, err


# -- (2) a broken lock names file and line ---------------------------------------------

def write_lock(tmp_path, edit):
    with open(LOCK) as f:
        lines = f.read().split("\n")
    n = edit(lines)  # edits in place, returns the 1-based line number of the fault
    path = str(tmp_path / "broken.lock")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path, n


def first_line(lines, prefix):
    return next(i for i, l in enumerate(lines) if l.startswith(prefix))


def add_unknown_field(lines):
    i = first_line(lines, "component %s" % SMALL) + 1
    lines.insert(i, "colour    blue")
    return i + 1


def bad_sha(lines):
    i = first_line(lines, "file")
    lines[i] = "file      not-a-sha256 123 x.dsc"
    return i + 1


def missing_size(lines):
    i = first_line(lines, "file")
    parts = lines[i].split()
    lines[i] = "file %s %s" % (parts[1], parts[3])
    return i + 1


def path_in_name(lines):
    i = first_line(lines, "file")
    parts = lines[i].split()
    lines[i] = "file %s %s ../../etc/%s" % (parts[1], parts[2], parts[3])
    return i + 1


def field_before_component(lines):
    i = first_line(lines, "component")
    lines.insert(i, "version 1.0")
    return i + 1


def bad_component_name(lines):
    i = first_line(lines, "component")
    lines[i] = "component Bad/Name"
    return i + 1


@pytest.mark.parametrize("edit,word", [
    (add_unknown_field, "colour"),
    (bad_sha, None),
    (missing_size, None),
    (path_in_name, None),
    (field_before_component, None),
    (bad_component_name, None),
], ids=lambda x: getattr(x, "__name__", str(x)))
def test_broken_lock_names_file_and_line(tmp_path, small_cache, edit, word):
    path, n = write_lock(tmp_path, edit)
    for args in ([SMALL], ["--list"], []):
        rc, out, err = fetch(*args, cache=small_cache, lock=path)
        assert rc != 0, "deps/fetch %s accepted a broken lock" % " ".join(args)
        lines = error_lines(err)
        assert len(lines) == 1, err
        assert "%s:%d" % (path, n) in lines[0], "want %s:%d in %r" % (path, n, lines[0])
        if word:
            assert word in lines[0], lines[0]


def test_missing_lock_is_named(tmp_path, small_cache):
    path = str(tmp_path / "no-such.lock")
    rc, _, err = fetch(SMALL, cache=small_cache, lock=path)
    assert rc != 0 and path in err, err


# -- (3) an unknown component lists the known ones --------------------------------------

def test_unknown_component(lock, small_cache):
    rc, _, err = fetch("nosuchcomponent", cache=small_cache)
    assert rc != 0
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert "unknown component" in lines[0] and "nosuchcomponent" in lines[0], lines[0]
    for name in lock:
        assert re.search(r"\b%s\b" % re.escape(name), lines[0]), "%s not listed: %s" % (name, lines[0])


def test_unknown_component_for_unpack(small_cache, tmp_path):
    dest = str(tmp_path / "u")
    rc, _, err = fetch("--unpack", "nosuchcomponent", dest, cache=small_cache)
    assert rc != 0 and "unknown component" in err, err
    assert not os.path.exists(dest)


# -- (4) an intact cache verifies and unpacks offline -------------------------------------

def test_intact_cache_verifies_offline(lock, full_cache):
    rc, out, err = fetch(cache=full_cache)
    assert rc == 0, err
    assert "fetch " not in err, "it tried to download:\n" + err
    rc, out, err = fetch(*lock, cache=full_cache)
    assert rc == 0, err


def test_list(lock, small_cache):
    rc, out, err = fetch("--list", cache=small_cache)
    assert rc == 0, err
    assert [l.split()[0] for l in out.splitlines() if l.strip()] == list(lock)


def test_intact_cache_unpacks_offline(small_cache, tmp_path):
    dest = str(tmp_path / "libyaml-src")
    rc, _, err = fetch("--unpack", SMALL, dest, cache=small_cache)
    assert rc == 0, err
    assert os.path.isfile(os.path.join(dest, ".bulwark-unpacked"))
    assert os.path.isfile(os.path.join(dest, "include", "yaml.h")), os.listdir(dest)
    assert os.path.isdir(os.path.join(dest, "debian")), os.listdir(dest)


# -- (5) a missing file with no network says what to do ----------------------------------

def test_missing_file_offline_says_what_to_do(lock, small_cache, tmp_path):
    entry = next(f for f in lock[SMALL] if ".orig.tar" in f["name"])
    d = os.path.join(small_cache, "sources", SMALL)
    os.unlink(os.path.join(d, entry["name"]))
    rc, _, err = fetch(SMALL, cache=small_cache, timeout=90)
    assert rc != 0, err
    last = error_lines(err)[-1]
    assert last.startswith("deps/fetch: "), err
    assert entry["name"] in last, last
    # What to do: put the file in the cache, or name a mirror that works.
    assert d in last or "BULWARK_CACHE" in last, "no hint where the file goes: " + last
    assert "BULWARK_MIRROR" in last, "no hint about the mirror: " + last
    # Nothing half-downloaded is left behind, and nothing is unpacked.
    assert sorted(os.listdir(d)) == sorted(f["name"] for f in lock[SMALL]
                                           if f["name"] != entry["name"]), os.listdir(d)
    dest = str(tmp_path / "u")
    rc, _, err = fetch("--unpack", SMALL, dest, cache=small_cache, timeout=90)
    assert rc != 0
    assert not os.path.exists(dest) or not os.listdir(dest)
