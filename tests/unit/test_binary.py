"""The built binary, checked from the outside with binutils: static-pie, full
RELRO, NX, CET, stack protector, no OpenSSL, mbedTLS in.

Each check is a function returning a list of problems. The same functions are
run on small programs compiled here without the hardening (they must report
problems) and with it (they must not), so that a check which cannot fail shows
up as a failing control instead of a green test."""

import os
import re
import subprocess
import zlib

import pytest

from conftest import REPO, require_binary, run

pytestmark = pytest.mark.unit

# Fewer canary reads than this in a whole h2o + mbedTLS + musl binary means the
# stack protector was not on for most of it (one read per protected function).
MIN_CANARY_SITES = 100


def tool(*cmd):
    r = run(list(cmd), timeout=120)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def segments(path):
    _, out, _ = tool("readelf", "-lW", path)
    segs = []
    for line in out.splitlines():
        m = re.match(r"^\s*([A-Z_]+|LOOS\+\w+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+"
                     r"0x[0-9a-f]+\s+0x[0-9a-f]+\s+([RWE ]+?)\s+0x[0-9a-f]+\s*$", line)
        if m:
            segs.append((m.group(1), m.group(2).replace(" ", "")))
    return segs, out


def dynamic(path):
    return tool("readelf", "-dW", path)[1]


def symbols(path):
    """Symbol names from .symtab and .dynsym; empty when stripped."""
    _, out, _ = tool("readelf", "-sW", "--wide", path)
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0].endswith(":"):
            names.add(parts[7].split("@")[0])
    return names


def strings(path):
    return tool("strings", "-a", "-n", "4", path)[1]


# -- checks -------------------------------------------------------------------

def check_static_pie(path):
    problems = []
    _, hdr, _ = tool("readelf", "-hW", path)
    m = re.search(r"^\s*Type:\s+(\S+)", hdr, re.M)
    if not m or m.group(1) != "DYN":
        problems.append("ELF type is %s, not DYN (PIE)" % (m.group(1) if m else "?"))
    segs, out = segments(path)
    if not segs:
        problems.append("no program headers parsed:\n" + out)
    if any(t == "INTERP" for t, _ in segs):
        problems.append("has PT_INTERP (dynamically linked)")
    d = dynamic(path)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", d)
    if needed:
        problems.append("DT_NEEDED: %s" % ", ".join(needed))
    return problems


def check_relro_now(path):
    problems = []
    segs, _ = segments(path)
    if not any(t == "GNU_RELRO" for t, _ in segs):
        problems.append("no PT_GNU_RELRO")
    d = dynamic(path)
    flags = re.search(r"\(FLAGS\)\s+(.*)", d)
    flags1 = re.search(r"\(FLAGS_1\)\s+Flags:\s+(.*)", d)
    if not (flags and "BIND_NOW" in flags.group(1).split()):
        problems.append("DT_FLAGS lacks BIND_NOW: %s" % (flags.group(1) if flags else "none"))
    if not (flags1 and "NOW" in flags1.group(1).split()):
        problems.append("DT_FLAGS_1 lacks NOW: %s" % (flags1.group(1) if flags1 else "none"))
    return problems


def check_nx(path):
    problems = []
    segs, _ = segments(path)
    stack = [f for t, f in segs if t == "GNU_STACK"]
    if not stack:
        problems.append("no PT_GNU_STACK (the stack defaults to executable)")
    elif "E" in stack[0]:
        problems.append("GNU_STACK is executable (%s)" % stack[0])
    for t, f in segs:
        if "W" in f and "E" in f:
            problems.append("segment %s is writable and executable (%s)" % (t, f))
    return problems


def check_cet(path):
    _, out, _ = tool("readelf", "-nW", path)
    m = re.search(r"x86 feature:\s*(.*)", out)
    feats = [x.strip() for x in m.group(1).split(",")] if m else []
    problems = []
    for want in ("IBT", "SHSTK"):
        if want not in feats:
            problems.append(".note.gnu.property lacks %s (x86 feature: %s)"
                            % (want, ", ".join(feats) or "none"))
    return problems


def canary_sites(path):
    # x86-64 (glibc and musl alike) keeps the stack-protector canary at %fs:0x28.
    _, out, _ = tool("objdump", "-d", "--no-show-raw-insn", path)
    return len(re.findall(r"%fs:0x28\b", out))


def check_stack_protector(path, min_sites=MIN_CANARY_SITES):
    problems = []
    syms = symbols(path)
    if syms and not ({"__stack_chk_fail", "__stack_chk_fail_local"} & syms):
        problems.append("no __stack_chk_fail symbol")
    n = canary_sites(path)
    if n < min_sites:
        problems.append("only %d stack-canary checks (%%fs:0x28), want >= %d" % (n, min_sites))
    return problems


OPENSSL_SYMBOL = re.compile(r"^(SSL_|SSL_CTX_|EVP_|BIO_|OPENSSL_|CRYPTO_|X509_|PEM_read_bio|"
                            r"ERR_get_error|TLS_(server|client)?_?method)")
OPENSSL_STRINGS = [re.compile(p) for p in (
    r"\bSSL_CTX_new\b", r"\bSSL_read\b", r"\bSSL_write\b", r"\bEVP_[A-Za-z]", r"\bBIO_new\b",
    r"\bOPENSSL_[a-z]", r"OpenSSL \d+\.\d+", r"libssl\.so", r"libcrypto\.so")]


def check_no_openssl(path):
    problems = []
    bad = sorted(s for s in symbols(path) if OPENSSL_SYMBOL.match(s))
    if bad:
        problems.append("OpenSSL symbols: %s" % ", ".join(bad[:10]))
    text = strings(path)
    for pat in OPENSSL_STRINGS:
        m = pat.search(text)
        if m:
            line = text[text.rfind("\n", 0, m.start()) + 1:text.find("\n", m.end())]
            problems.append("OpenSSL string %r in %r" % (pat.pattern, line[:120]))
    return problems


def check_mbedtls_in(path):
    syms = symbols(path)
    if any(s.startswith("mbedtls_") for s in syms):
        return []
    if re.search(r"mbed ?tls", strings(path), re.I):
        return []
    return ["neither mbedtls_ symbols nor an Mbed TLS string"]


CHECKS = [check_static_pie, check_relro_now, check_nx, check_cet, check_stack_protector,
          check_no_openssl, check_mbedtls_in]


# -- on the binary --------------------------------------------------------------------

@pytest.fixture(scope="module")
def binary():
    path = require_binary()
    _, hdr, _ = tool("readelf", "-hW", path)
    if "ELF64" not in hdr or "X86-64" not in hdr:
        pytest.fail("%s is not an x86-64 ELF64 file:\n%s" % (path, hdr), pytrace=False)
    return path


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_binary(binary, check):
    problems = check(binary)
    assert not problems, "%s: %s" % (binary, "; ".join(problems))


# -- controls: the checks can fail, and pass for what they should ----------------------

HELLO = r"""
#include <stdio.h>
#include <string.h>
int work(const char *s) { char buf[64]; strcpy(buf, s); return printf("%s\n", buf); }
int main(int argc, char **argv) { return work(argc > 1 ? argv[1] : "hi") < 0; }
"""


@pytest.fixture(scope="module")
def controls(tmp_path_factory):
    d = tmp_path_factory.mktemp("controls")
    src = d / "hello.c"
    src.write_text(HELLO)
    weak, strong = str(d / "weak"), str(d / "strong")
    r = run(["gcc", "-O2", "-fno-stack-protector", "-fcf-protection=none", "-no-pie",
             "-Wl,-z,norelro,-z,lazy,-z,execstack", "-o", weak, str(src)])
    assert r.returncode == 0, r.stderr.decode()
    r = run(["gcc", "-O2", "-static-pie", "-fPIE", "-fstack-protector-all", "-fcf-protection=full",
             "-Wl,-z,relro,-z,now,-z,noexecstack", "-o", strong, str(src)])
    assert r.returncode == 0, r.stderr.decode()
    return weak, strong


@pytest.mark.parametrize("check", [check_static_pie, check_relro_now, check_nx, check_cet,
                                   check_stack_protector], ids=lambda c: c.__name__)
def test_check_rejects_unhardened_program(controls, check):
    assert check(controls[0]), "%s passed an unhardened program" % check.__name__


@pytest.mark.parametrize("check", [check_static_pie, check_relro_now, check_nx],
                         ids=lambda c: c.__name__)
def test_check_accepts_hardened_program(controls, check):
    assert not check(controls[1]), check(controls[1])


def test_stack_protector_check_counts_canaries(controls):
    assert canary_sites(controls[1]) >= 1
    assert canary_sites(controls[0]) == 0


def test_openssl_checks_catch_openssl():
    # The openssl command links libssl/libcrypto: the check must see it, and
    # must not mistake it for mbedTLS.
    path = "/usr/bin/openssl"
    assert check_no_openssl(path)
    assert check_static_pie(path)
    assert check_mbedtls_in(path)


# -- the release /init: stripped, its debug information in a separate file ------------
#
# build/image/bulwark (the /init of the image) has no symbols and no debug
# sections; build/image/bulwark.debug (objcopy --only-keep-debug) has them,
# and the stripped binary names it in .gnu_debuglink: the file name, then the
# CRC-32 of the debug file (what gdb checks before using it).

IMAGE = os.environ.get("BULWARK_IMAGE") or os.path.join(REPO, "build", "image")


def section_names(path):
    _, out, _ = tool("readelf", "-SW", path)
    return re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", out, re.M)


def check_stripped(path):
    problems = []
    names = section_names(path)
    if not names:
        problems.append("no sections read")
    debug = [n for n in names if n.startswith((".debug_", ".zdebug_"))]
    if debug:
        problems.append("debug sections: %s" % ", ".join(debug))
    if ".symtab" in names:
        problems.append("has a .symtab")
    return problems


def debuglink(path):
    """(file name, CRC-32) from .gnu_debuglink, or None."""
    if ".gnu_debuglink" not in section_names(path):
        return None
    _, out, _ = tool("readelf", "-x", ".gnu_debuglink", "-W", path)
    data = b"".join(bytes.fromhex("".join(m.split()))
                    for m in re.findall(r"^\s*0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ){1,4})", out, re.M))
    end = data.index(b"\0")
    off = (end + 1 + 3) & ~3  # the CRC follows the name, 4-byte aligned
    return data[:end].decode(), int.from_bytes(data[off:off + 4], "little")


def check_debuglink(path, debug_path):
    link = debuglink(path)
    if link is None:
        return ["no .gnu_debuglink section"]
    problems = []
    name, crc = link
    if name != os.path.basename(debug_path):
        problems.append(".gnu_debuglink names %r, not %r" % (name, os.path.basename(debug_path)))
    with open(debug_path, "rb") as f:
        want = zlib.crc32(f.read())
    if crc != want:
        problems.append(".gnu_debuglink CRC %08x, %s has %08x" % (crc, debug_path, want))
    return problems


def check_has_debug_info(path):
    names = section_names(path)
    problems = ["no %s" % n for n in (".debug_info", ".debug_line", ".symtab") if n not in names]
    _, out, _ = tool("readelf", "--debug-dump=info", path)
    if "DW_TAG_compile_unit" not in out:
        problems.append("readelf --debug-dump=info shows no compile units")
    return problems


def cpio_member(path, wanted):
    """The bytes of one member of a newc cpio archive (the kernel's initramfs)."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 110 <= len(data):
        hdr = data[pos:pos + 110]
        assert hdr[:6] in (b"070701", b"070702"), "not a newc cpio at %d" % pos
        size, namesize = int(hdr[54:62], 16), int(hdr[94:102], 16)
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        start = (pos + 110 + namesize + 3) & ~3
        if name == wanted:
            return data[start:start + size]
        if name == "TRAILER!!!":
            break
        pos = (start + size + 3) & ~3
    return None


@pytest.fixture(scope="module")
def release():
    b, d = os.path.join(IMAGE, "bulwark"), os.path.join(IMAGE, "bulwark.debug")
    for p in (b, d):
        if not os.path.isfile(p):
            pytest.fail("%s not found: ./build.sh image" % p, pytrace=False)
    return b, d


def test_release_binary_is_stripped(release):
    assert not check_stripped(release[0]), check_stripped(release[0])


def test_release_binary_links_its_debug_file(release):
    assert not check_debuglink(*release), check_debuglink(*release)


def test_debug_file_has_the_debug_information(release):
    assert not check_has_debug_info(release[1]), check_has_debug_info(release[1])


def test_release_binary_is_the_init_of_the_image(release):
    init = cpio_member(os.path.join(IMAGE, "initramfs.cpio"), "init")
    assert init is not None, "no /init in initramfs.cpio"
    with open(release[0], "rb") as f:
        assert init == f.read(), "/init differs from build/image/bulwark"


def test_release_checks_can_fail(binary, release, tmp_path):
    # The unstripped build is refused by the strip check and has no link; the
    # release binary does not match a debug file with other bytes.
    assert check_stripped(binary)
    assert check_debuglink(binary, release[1]) == ["no .gnu_debuglink section"]
    other = tmp_path / "bulwark.debug"
    other.write_bytes(open(release[1], "rb").read() + b"\0")
    assert any("CRC" in p for p in check_debuglink(release[0], str(other)))
    assert check_has_debug_info(release[0])
