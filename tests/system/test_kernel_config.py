"""The built kernel's .config: every hardening rule of issue 4 §1 (checked by
image/kernel/check-config), our fragment as written, and the command line."""

import os
import subprocess

from .conftest import REPO, release_file

CHECK = os.path.join(REPO, "image", "kernel", "check-config")
FRAGMENT = os.path.join(REPO, "image", "kernel", "bulwark.config")


def read_config(path):
    values = {}
    with open(path) as f:
        for line in f:
            if line.startswith("CONFIG_") and "=" in line:
                k, _, v = line.strip().partition("=")
                values[k] = v
    return values


def check(path):
    r = subprocess.run([CHECK, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return r.returncode, r.stdout.decode()


def test_hardening_rules_hold():
    rc, out = check(release_file("config"))
    assert rc == 0, "kernel config misses hardening rules:\n" + out


def test_fragment_applied_as_written():
    have = read_config(release_file("config"))
    wrong = []
    with open(FRAGMENT) as f:
        for line in f:
            line = line.strip()
            if line.startswith("CONFIG_"):
                k, _, v = line.partition("=")
            elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
                k, v = line.split()[1], "n"
            else:
                continue
            if have.get(k, "n") != v:
                wrong.append("%s: wanted %s, have %s" % (k, v, have.get(k, "n")))
    assert not wrong, "\n".join(wrong)


def test_command_line_defaults_overridable():
    have = read_config(release_file("config"))
    assert have.get("CONFIG_CMDLINE_BOOL") == "y"
    assert have.get("CONFIG_CMDLINE_OVERRIDE", "n") == "n"
    args = have["CONFIG_CMDLINE"].strip('"').split()
    for want in ("console=ttyS0", "ip=dhcp", "panic=-1"):
        assert want in args, args


def test_initramfs_built_in_uncompressed():
    have = read_config(release_file("config"))
    assert have.get("CONFIG_INITRAMFS_SOURCE", '""') != '""'
    assert have.get("CONFIG_INITRAMFS_COMPRESSION_NONE") == "y"


def test_checker_names_every_broken_rule(tmp_path):
    """The checker itself: a config breaking rules is refused, each named."""
    broken = tmp_path / "config"
    text = open(release_file("config")).read()
    text = text.replace("CONFIG_RANDOMIZE_BASE=y", "# CONFIG_RANDOMIZE_BASE is not set")
    text = text.replace("# CONFIG_MODULES is not set", "CONFIG_MODULES=y")
    text = text.replace("CONFIG_INIT_ON_FREE_DEFAULT_ON=y\n", "")
    text += "CONFIG_IO_URING=y\n"
    broken.write_text(text)
    rc, out = check(str(broken))
    assert rc == 1, out
    for opt in ("CONFIG_RANDOMIZE_BASE", "CONFIG_MODULES", "CONFIG_INIT_ON_FREE_DEFAULT_ON",
                "CONFIG_IO_URING"):
        assert ("FAIL " + opt + " ") in out, out
    assert out.count("FAIL ") == 4, out


def test_checker_fails_on_missing_config(tmp_path):
    rc, out = check(str(tmp_path / "nope"))
    assert rc == 2 and "cannot read" in out


def test_vmgenid_reseeds_rng_on_clone():
    """CVE-2026-25835 (deps/advisories.yaml): the VM generation ID driver is
    built in, so a restored snapshot or a clone reseeds the kernel's RNG
    before getrandom() hands out the same bytes twice."""
    have = read_config(release_file("config"))
    assert have.get("CONFIG_VIRT_DRIVERS") == "y"
    assert have.get("CONFIG_VMGENID") == "y", "VMGENID is %s" % have.get("CONFIG_VMGENID", "n")


def test_perf_events_restricted():
    """CLASS-LINUX-PERF-EVENTS: x86 cannot drop PERF_EVENTS, so Debian's
    restriction (perf_event_paranoid=3) is on and no PMU driver is built."""
    have = read_config(release_file("config"))
    assert have.get("CONFIG_SECURITY_PERF_EVENTS_RESTRICT") == "y"
    for pmu in ("INTEL_UNCORE", "INTEL_RAPL", "INTEL_CSTATE", "AMD_POWER", "AMD_UNCORE"):
        assert have.get("CONFIG_PERF_EVENTS_" + pmu, "n") == "n", pmu
