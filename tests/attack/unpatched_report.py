#!/usr/bin/python3
"""The table of tests/attack/unpatched.sh: each attack test's result on our
build and on the unpatched one, grouped by outcome, and whether the split is
the expected one.

  unpatched_report.py OURS.xml UNPATCHED.xml STOCK_OK.txt

OURS.xml and UNPATCHED.xml are pytest's junit XML of the two runs;
STOCK_OK.txt lists the node ids of the tests marked stock_ok, one a line.
Expected: every test passes on ours; a stock_ok test passes on the unpatched
build, every other test fails there (a failed assertion: an error of a
fixture, a skip or a missing result does not count). Exits 1 otherwise.
"""

import sys
import xml.etree.ElementTree as ET


def results(path):
    """node id -> passed | failed | error | skipped"""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        node = "%s::%s" % (module, case.get("name"))
        tags = {child.tag for child in case}
        if "error" in tags:
            outcome = "error"
        elif "failure" in tags:
            outcome = "failed"
        elif "skipped" in tags:
            outcome = "skipped"
        else:
            outcome = "passed"
        out[node] = outcome
    return out


def main():
    ours_path, unpatched_path, stock_ok_path = sys.argv[1:4]
    ours, unpatched = results(ours_path), results(unpatched_path)
    with open(stock_ok_path) as f:
        stock_ok = {line.strip() for line in f if "::" in line}
    unknown = stock_ok - set(ours)
    groups = {}
    for node in sorted(set(ours) | set(unpatched)):
        expected = "passed" if node in stock_ok else "failed"
        o, u = ours.get(node, "missing"), unpatched.get(node, "missing")
        ok = o == "passed" and u == expected
        kind = "stock_ok" if node in stock_ok else "distinguishing"
        groups.setdefault((ok, kind, o, u), []).append(node)

    width = max(len(n) for nodes in groups.values() for n in nodes)
    print("%-*s  %-8s  %-9s  %s" % (width, "test", "ours", "unpatched", "expected on unpatched"))
    bad = 0
    for (ok, kind, o, u), nodes in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1])):
        verdict = "as expected" if ok else "NOT AS EXPECTED"
        print("\n-- %s: ours %s, unpatched %s: %d (%s)" % (kind, o, u, len(nodes), verdict))
        for n in nodes:
            print("%-*s  %-8s  %-9s  %s" % (width, n, o, u, "passed" if kind == "stock_ok" else "failed"))
        if not ok:
            bad += len(nodes)
    total = sum(len(nodes) for nodes in groups.values())
    n_stock = sum(len(nodes) for (_, kind, _, _), nodes in groups.items() if kind == "stock_ok")
    print("\n%d tests: %d distinguishing (expected: pass on ours, fail on unpatched), "
          "%d stock_ok (expected: pass on both); %d not as expected" % (total, total - n_stock, n_stock, bad))
    if unknown:
        print("stock_ok ids without a result on ours: %s" % ", ".join(sorted(unknown)))
        bad += len(unknown)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
