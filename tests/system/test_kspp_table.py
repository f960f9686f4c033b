"""image/kernel/KSPP.md against the built kernel: every row's claim (on, off,
=VALUE, gone) is checked on build/image/config, so the table cannot say
something the kernel does not do."""

import os
import re

from .conftest import REPO, release_file

TABLE = os.path.join(REPO, "image", "kernel", "KSPP.md")
ROW = re.compile(r"^\|\s*`(CONFIG_[A-Z0-9_]+)[^`]*`[^|]*\|\s*([^|]+?)\s*\|\s*(.*?)\s*\|\s*$")
CLAIM = re.compile(r"^(on|off|gone|=\S+)$")
# The KSPP list has about 150 build options for x86-64; far fewer rows means
# the parser (or the table) lost some.
MIN_ROWS = 120


def read_config(path):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("CONFIG_") and "=" in line:
                k, _, v = line.partition("=")
                values[k] = v
            elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
                values[line.split()[1]] = "n"
    return values


def read_table(path=TABLE):
    rows, bad = [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = ROW.match(line)
            if not m:
                if line.startswith("| `CONFIG_"):
                    bad.append("line %d: not a table row: %s" % (n, line.strip()))
                continue
            opt, claim, why = m.groups()
            if not CLAIM.match(claim):
                bad.append("line %d: %s: claim %r is none of on, off, gone, =VALUE" % (n, opt, claim))
            elif not why:
                bad.append("line %d: %s: no reason given" % (n, opt))
            else:
                rows.append((n, opt, claim))
    return rows, bad


def mismatches(rows, values):
    out = []
    for n, opt, claim in rows:
        have = values.get(opt)
        if claim == "on":
            ok = have == "y"
        elif claim == "off":
            ok = have in (None, "n")
        elif claim == "gone":
            ok = have is None or have == "n"
        else:
            ok = have == claim[1:]
        if not ok:
            out.append("KSPP.md line %d: %s is %s in the table, %s in the config"
                       % (n, opt, claim, "absent" if have is None else have))
    return out


def test_table_parses():
    rows, bad = read_table()
    assert not bad, "\n".join(bad)
    assert len(rows) >= MIN_ROWS, "only %d rows read from %s" % (len(rows), TABLE)
    opts = [opt for _, opt, _ in rows]
    dups = sorted({o for o in opts if opts.count(o) > 1})
    assert not dups, "options listed twice: %s" % ", ".join(dups)


def test_table_matches_built_config():
    rows, _ = read_table()
    wrong = mismatches(rows, read_config(release_file("config")))
    assert not wrong, "\n".join(wrong)


def test_mismatch_is_reported():
    """The comparison itself: flipping options in a copy of the built config
    makes exactly those rows fail."""
    rows, _ = read_table()
    values = read_config(release_file("config"))
    flipped = dict(values)
    flipped["CONFIG_STRICT_KERNEL_RWX"] = "n"  # an "on" row
    flipped["CONFIG_MODULES"] = "y"  # an "off" row
    flipped["CONFIG_PANIC_TIMEOUT"] = "0"  # a "=VALUE" row
    flipped["CONFIG_DEVKMEM"] = "y"  # a "gone" row
    wrong = mismatches(rows, flipped)
    assert len(wrong) == 4, wrong
    for opt in ("CONFIG_STRICT_KERNEL_RWX", "CONFIG_MODULES", "CONFIG_PANIC_TIMEOUT", "CONFIG_DEVKMEM"):
        assert any(" %s " % opt in w for w in wrong), (opt, wrong)
