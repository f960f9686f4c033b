"""deps/audit (`make audit`): the advisory review of deps/advisories.yaml
against the lock, our patches and tests, Debian's patch series and the
configuration facts the reasons rely on.

The real files must pass; copies with one thing broken each must fail and
say what: a lock bump not yet reviewed, a component nobody reviewed, a
missing patch or test, a Debian patch not in the series, a fact that no
longer holds, an entry without what its status needs.
"""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
AUDIT = REPO / "deps" / "audit"
LOCK = REPO / "deps" / "sources.lock"
ADVISORIES = REPO / "deps" / "advisories.yaml"


def audit(*args):
    return subprocess.run([str(AUDIT)] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)


def advisories():
    return yaml.safe_load(ADVISORIES.read_text())


def write_advisories(tmp_path, doc):
    p = tmp_path / "advisories.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def entry(doc, component, aid):
    for adv in doc["components"][component]["advisories"]:
        if adv["id"] == aid:
            return adv
    raise KeyError(aid)


def assert_fails(r, *words):
    assert r.returncode == 1, r.stdout + r.stderr
    for w in words:
        assert w in r.stderr, "%r not in:\n%s" % (w, r.stderr)


def test_repository_passes_and_prints_the_table():
    r = audit()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["component", "advisory", "status"]
    for comp in ("musl", "mbedtls", "h2o", "libyaml", "jansson", "linux"):
        assert any(l.startswith(comp + " ") for l in lines), comp
    assert any("CVE-2023-44487" in l and "fixed-by-us" in l for l in lines)
    assert "audit: OK" in r.stdout


def test_every_lock_component_is_reviewed_at_its_version():
    lock = {}
    comp = None
    for line in LOCK.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["component"]:
            comp = words[1]
        elif words[:1] == ["version"]:
            lock[comp] = words[1]
    doc = advisories()
    assert set(doc["components"]) == set(lock)
    for name, version in lock.items():
        assert str(doc["components"][name]["reviewed_version"]) == version, name


def test_lock_bump_fails_until_reviewed(tmp_path):
    lock = tmp_path / "sources.lock"
    lock.write_text(LOCK.read_text().replace("version   6.12.107-1", "version   6.12.108-1"))
    assert_fails(audit("--lock", lock), "linux", "6.12.108-1", "reviewed for 6.12.107-1")


def test_unreviewed_component_fails(tmp_path):
    doc = advisories()
    del doc["components"]["libyaml"]
    assert_fails(audit("--advisories", write_advisories(tmp_path, doc)), "libyaml", "never reviewed")


def test_component_not_in_the_lock_fails(tmp_path):
    doc = advisories()
    doc["components"]["openssl"] = {"reviewed_version": "3.0", "reviewed": "2026-01-01", "advisories": []}
    assert_fails(audit("--advisories", write_advisories(tmp_path, doc)), "openssl", "not in the lock")


def test_missing_patch_fails(tmp_path):
    doc = advisories()
    entry(doc, "h2o", "CVE-2023-44487")["patch"] = ["deps/patches/h2o/0099-gone.patch"]
    assert_fails(audit("--advisories", write_advisories(tmp_path, doc)), "CVE-2023-44487", "0099-gone.patch")


def test_missing_test_fails(tmp_path):
    doc = advisories()
    entry(doc, "h2o", "CVE-2023-44487")["tests"] = ["tests/attack/test_http2_floods.py::test_not_written"]
    assert_fails(audit("--advisories", write_advisories(tmp_path, doc)), "test_not_written")
    entry(doc, "h2o", "CVE-2023-44487")["tests"] = ["tests/attack/test_nothing_here.py::test_x"]
    assert_fails(audit("--advisories", write_advisories(tmp_path, doc)), "test_nothing_here.py")


def test_missing_parametrize_id_fails(tmp_path):
    doc = advisories()
    entry(doc, "h2o", "CVE-2019-9516")["tests"] = [
        "tests/attack/test_http2_headers.py::test_malformed_raw_field_refused[no_such_case]"]
    assert_fails(audit("--advisories", write_advisories(tmp_path, doc)), "no_such_case")


def test_debian_patch_not_in_series_fails(tmp_path):
    doc = advisories()
    entry(doc, "musl", "CVE-2025-26519")["debian_patch"] = "CVE-2025-99999-made-up.patch"
    assert_fails(audit("--advisories", write_advisories(tmp_path, doc)), "CVE-2025-99999-made-up.patch",
                 "debian/patches/series")


def test_fact_that_no_longer_holds_fails(tmp_path):
    doc = advisories()
    entry(doc, "mbedtls", "CVE-2026-73096")["holds"] = ["mbedtls-config MBEDTLS_SSL_EARLY_DATA=on"]
    entry(doc, "h2o", "CVE-2024-25622")["holds"] = ["h2o-source lib/http2/hpack.c=off"]
    entry(doc, "jansson", "CVE-2020-36325")["holds"] = ["repo-grep json_loadb=absent"]
    r = audit("--advisories", write_advisories(tmp_path, doc))
    assert_fails(r, "MBEDTLS_SSL_EARLY_DATA=on", "lib/http2/hpack.c=off", "json_loadb=absent")


def test_kconfig_fact_checked_against_a_built_config(tmp_path):
    kconfig = tmp_path / "config"
    kconfig.write_text("CONFIG_IO_URING=y\n# CONFIG_NETFILTER is not set\n")
    r = audit("--kconfig", kconfig)
    assert_fails(r, "CONFIG_IO_URING=n", "has y")


def test_status_needs_its_fields(tmp_path):
    doc = advisories()
    del entry(doc, "mbedtls", "CVE-2026-50581")["reason"]
    entry(doc, "libyaml", "CVE-2024-3205")["status"] = "wontfix"
    del entry(doc, "h2o", "CVE-2025-8671")["tests"]
    entry(doc, "mbedtls", "CVE-2026-73064")["status"] = "open"  # and no action
    r = audit("--advisories", write_advisories(tmp_path, doc))
    assert_fails(r, "CVE-2026-50581: status not-affected needs reason", "'wontfix'",
                 "CVE-2025-8671: status fixed-by-us needs tests", "CVE-2026-73064: status open needs action")


def test_strict_fails_while_anything_is_open(tmp_path):
    doc = advisories()
    e = entry(doc, "mbedtls", "CVE-2026-73064")
    e["status"], e["action"] = "open", "someone has to do something"
    r = audit("--advisories", write_advisories(tmp_path, doc))
    assert r.returncode == 0, r.stdout + r.stderr  # open alone does not fail the plain audit
    r = audit("--strict", "--advisories", write_advisories(tmp_path, doc))
    assert_fails(r, "open advisories")
