"""The release image's contents: an initramfs of exactly /init and
/dev/console built into the kernel, no shell anywhere, a disk whose EFI
system partition holds the kernel and nothing else, reproducible bytes."""

import os
import subprocess

from .conftest import REPO, release_file

# DESIGN.md: kernel + initramfs within 4 MiB.
KERNEL_MAX_BYTES = 4 << 20
SHELLS = {"sh", "ash", "bash", "dash", "busybox", "toybox", "zsh", "ksh", "mksh"}


def run(*cmd, stdin=None):
    r = subprocess.run(list(cmd), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    assert r.returncode == 0, "%s: %s" % (" ".join(cmd), r.stderr.decode())
    return r.stdout.decode()


def cpio_listing():
    with open(release_file("initramfs.cpio"), "rb") as f:
        return [l.split() for l in run("cpio", "-itv", "--quiet", stdin=f).splitlines()]


def test_initramfs_is_exactly_init_and_console():
    entries = {e[-1]: e for e in cpio_listing()}
    assert sorted(entries) == ["dev", "dev/console", "init"], sorted(entries)
    assert entries["init"][0] == "-r-x------" and entries["init"][1:4] == ["1", "root", "root"]
    assert entries["dev/console"][0] == "crw-------"
    assert entries["dev/console"][4:6] == ["5,", "1"]
    assert entries["dev"][0] == "drwxr-xr-x"


def test_initramfs_is_the_one_in_the_kernel():
    """The archive is stored uncompressed in vmlinux (and vmlinux in bzImage)."""
    with open(release_file("initramfs.cpio"), "rb") as f:
        cpio = f.read()
    with open(release_file("vmlinux"), "rb") as f:
        assert cpio in f.read()


def test_init_is_a_static_elf_and_no_shell_anywhere():
    names = {os.path.basename(e[-1]) for e in cpio_listing()}
    assert not names & SHELLS
    executables = [e[-1] for e in cpio_listing() if e[0].startswith("-") and "x" in e[0]]
    assert executables == ["init"], executables
    with open(release_file("initramfs.cpio"), "rb") as f:
        data = f.read()
    # The one executable is an ELF, not a script needing an interpreter.
    assert b"#!/" not in data
    assert b"\x7fELF" in data


def test_esp_holds_only_the_kernel():
    disk = release_file("disk.raw")
    listing = run("mdir", "-/", "-b", "-i", disk + "@@1M", "::").split()
    assert sorted(listing) == ["::/EFI/", "::/EFI/BOOT/", "::/EFI/BOOT/BOOTX64.EFI"], listing


def test_esp_kernel_is_the_bzimage(tmp_path):
    disk = release_file("disk.raw")
    copy = tmp_path / "BOOTX64.EFI"
    run("mcopy", "-n", "-i", disk + "@@1M", "::EFI/BOOT/BOOTX64.EFI", str(copy))
    with open(release_file("bzImage"), "rb") as f:
        assert copy.read_bytes() == f.read()


def test_gpt_has_one_efi_system_partition():
    out = run("sgdisk", "-p", release_file("disk.raw"))
    parts = [l.split() for l in out.splitlines() if l.strip()[:1].isdigit()]
    assert len(parts) == 1 and parts[0][5] == "EF00" and parts[0][1] == "2048", out


def test_disk_is_reproducible(tmp_path):
    r = subprocess.run([os.path.join(REPO, "image", "mkdisk"), "--kernel",
                        release_file("bzImage"), "--out", str(tmp_path)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert r.returncode == 0, r.stdout.decode()
    with open(release_file("disk.raw"), "rb") as f:
        assert (tmp_path / "disk.raw").read_bytes() == f.read(), \
            "disk.raw differs from a rebuild (was SOURCE_DATE_EPOCH the same?)"


def test_kernel_with_initramfs_within_4_mib():
    size = os.path.getsize(release_file("bzImage"))
    assert size <= KERNEL_MAX_BYTES, "bzImage is %d bytes, over %d" % (size, KERNEL_MAX_BYTES)
