"""Each QEMU profile boots the test image to its /init, under a hard time
limit; the kernel's DHCP, the secrets disk, the command-line defaults and the
ACPI power button (QMP system_powerdown -> SIGTERM to PID 1) all work."""

import os
import time

import pytest

from .conftest import BOOT_LIMIT_S, POWEROFF, READY, boot_args, image_test_file

PROFILES = ["microvm", "q35", "uefi"]


@pytest.mark.parametrize("profile", PROFILES)
def test_boots_to_init_and_powers_off(guest, profile, secrets_img, record_property):
    g = guest(profile, "--secrets", secrets_img, *boot_args(profile, image_test_file))
    m = g.wait_for(READY.pattern, BOOT_LIMIT_S[profile])
    wall = time.monotonic() - g.started
    record_property("uptime_at_init_s", float(m.group(1)))
    record_property("wall_to_init_s", round(wall, 2))
    print("%s: /init at %.2f s guest uptime, %.2f s after launch" % (profile, float(m.group(1)), wall))
    g.wait_for(POWEROFF, 30)
    assert g.wait_exit() == 0, g.console[-3000:]
    console = g.console
    # The baked-in defaults reached the kernel.
    cmdline = [l for l in console.splitlines() if "testinit: cmdline:" in l][0]
    for arg in ("console=ttyS0", "ip=dhcp", "panic=-1"):
        assert arg in cmdline.split(), cmdline
    # ip=dhcp configured the interface before /init ran.
    assert "testinit: pnp: #PROTO: DHCP" in console, console[-3000:]
    # The secrets volume is a block device the kernel found (vda; vdb beside the uefi boot disk).
    disks = [l.split()[-1] for l in console.splitlines()
             if "testinit: partitions:" in l and l.split()[-1].startswith("vd")]
    assert ("vdb" if profile == "uefi" else "vda") in disks, console[-3000:]


@pytest.mark.parametrize("profile", ["microvm", "q35"])
def test_hypervisor_cmdline_extends_defaults(guest, profile):
    g = guest(profile, "--no-secrets", "--cmdline-extra", "ip=off bulwark.extra=1",
              *boot_args(profile, image_test_file))
    g.wait_for(READY.pattern, BOOT_LIMIT_S[profile])
    g.wait_for(POWEROFF, 30)
    g.wait_exit()
    cmdline = [l for l in g.console.splitlines() if "testinit: cmdline:" in l][0].split()
    assert "console=ttyS0" in cmdline and "bulwark.extra=1" in cmdline, cmdline
    # A later ip= wins over the built-in ip=dhcp: no DHCP lease.
    assert cmdline.index("ip=off") > cmdline.index("ip=dhcp")
    assert "#PROTO: DHCP" not in g.console


@pytest.mark.parametrize("profile", ["microvm", "q35"])
def test_qmp_powerdown_signals_pid1_and_qemu_exits(guest, profile):
    g = guest(profile, "--no-secrets", "--cmdline-extra", "testinit=wait",
              *boot_args(profile, image_test_file))
    g.wait_for("testinit: waiting for SIGTERM", BOOT_LIMIT_S[profile])
    g.qmp("system_powerdown")
    g.wait_for("BULWARK-TESTINIT-SIGNAL SIGTERM", 30)
    assert g.wait_exit() == 0, g.console[-3000:]



@pytest.mark.parametrize("vmgenid", [True, False], ids=["with-vmgenid", "without"])
def test_vmgenid_driver_binds(guest, vmgenid):
    """CVE-2026-25835: the kernel's VM generation ID driver finds QEMU's
    device (the one a snapshot restore or clone changes, the kernel's cue to
    reseed its RNG). Without the device nothing is bound: the marker is the
    driver's, not testinit's."""
    args = ["--no-secrets", "--cmdline-extra", "ip=off"] + (["--vmgenid"] if vmgenid else [])
    g = guest("q35", *args, *boot_args("q35", image_test_file))
    g.wait_for(READY.pattern, BOOT_LIMIT_S["q35"])
    g.wait_for(POWEROFF, 30)
    g.wait_exit()
    lines = [l for l in g.console.splitlines() if "testinit: vmgenid:" in l]
    if vmgenid:
        assert any("bound QEMUVGID:" in l for l in lines), g.console[-3000:]
    else:
        assert lines and all("bound" not in l for l in lines), lines


RESEEDED = "crng reseeded due to virtual machine fork"
GUID_A = "5b0c1e2a-3f4d-4e6a-9b7c-8d9e0f1a2b3c"
GUID_B = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"


@pytest.mark.parametrize("restored_guid", [GUID_B, GUID_A], ids=["new-generation", "same-generation"])
def test_restore_with_new_vm_generation_reseeds_rng(guest, restored_guid, tmp_path):
    """CVE-2026-25835, end to end: a running guest's state is saved (QMP
    migrate to a file, what a snapshot is) and resumed in a new QEMU, as a
    restore or a clone would be. With a new generation ID the kernel's CRNG
    is reseeded on resume (the kernel says so at notice level, hence
    loglevel=6); resumed with the same ID it is not, so the message comes
    from the ID's change, not from the restore itself. testinit=wait has
    the guest seed its CRNG first (getrandom) and then wait, running, for
    the power button that ends both halves."""
    state = str(tmp_path / "state")
    args = ["--no-secrets", "--cmdline-extra", "ip=off testinit=wait loglevel=6",
            *boot_args("q35", image_test_file)]
    g = guest("q35", *args, "--vmgenid", GUID_A)
    g.wait_for("testinit: crng ready", BOOT_LIMIT_S["q35"])
    g.wait_for("testinit: waiting for SIGTERM", 30)
    assert RESEEDED not in g.console  # the boot's own ID is the first, not a change
    g.qmp("migrate", uri="exec:cat > " + state)
    assert qmp_until(g, "query-migrate", "status", "completed", ("failed", "cancelled")) == "completed"
    g.qmp("quit")
    g.wait_exit()
    assert os.path.getsize(state) > 1 << 20  # the guest's RAM went into it

    r = guest("q35", *args, "--vmgenid", restored_guid, "--incoming", state)
    qmp_until(r, "query-status", "status", "running", ("internal-error", "shutdown"))
    if restored_guid != GUID_A:
        r.wait_for(RESEEDED, 60)
    r.qmp("system_powerdown")
    r.wait_for("BULWARK-TESTINIT-SIGNAL SIGTERM", 60)  # the resumed guest runs
    assert r.wait_exit() == 0, r.console[-3000:]
    assert "BULWARK-TESTINIT-READY" not in r.console  # resumed, not booted again
    assert (RESEEDED in r.console) == (restored_guid != GUID_A), r.console[-3000:]


def qmp_until(g, command, field, want, bad, timeout=120):
    """Polls a QMP query until its field is want (or one of bad, or the
    time is up); QEMU's QMP socket may not exist yet in the first moments."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        try:
            got = g.qmp(command).get(field)
        except (FileNotFoundError, ConnectionRefusedError):
            got = "no QMP yet"
        if got == want or got in bad:
            return got
        time.sleep(0.2)
    pytest.fail("%s: %s %s is %r after %d s" % (g.profile, command, field, got, timeout), pytrace=False)
