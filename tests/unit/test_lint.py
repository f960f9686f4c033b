"""make lint in make test: the static analysis of our code (tests/lint/run)
finds nothing, and each of its five tools does find the defects it is there
for in a file written to have them (so that a tool that silently stopped
working, or a flag that switched it off, cannot pass as "zero findings").

Needs the build (the C is analysed against build/sysroot and build/deps) and
the packages of tests/lint/host-packages.txt (make deps).
"""

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.lint

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "tests" / "lint" / "run"
# measured at ~80 s of CPU on 2 cores; generous for a loaded CI machine
TIMEOUT_S = 900

BAD_C = """\
#include <stdlib.h>
#include <string.h>

char *copy(const char *s)
{
    char *p = malloc(8);
    strcpy(p, s);
    return p;
}

void leak(void)
{
    char *q = malloc(4);
    if (q != NULL)
        q[0] = 0;
}

int deref(int *x)
{
    int v = *x;
    if (x == NULL)
        return 0;
    return v;
}
"""
BAD_SH = "#!/bin/bash\necho $1\n"


def lint(*args):
    return subprocess.run([str(RUN)] + [str(a) for a in args], cwd=str(REPO), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=TIMEOUT_S)


def test_our_code_has_no_findings():
    r = lint()
    assert r.returncode == 0, "make lint found something (fix it, or suppress it with the reason on its line; " \
                              "tests/lint/README.md):\n" + r.stdout
    assert "finding(s)" in r.stdout


def test_every_tool_reports_a_planted_defect(tmp_path):
    c, sh = tmp_path / "planted.c", tmp_path / "planted.sh"
    c.write_text(BAD_C)
    sh.write_text(BAD_SH)
    r = lint("--only", c, sh)
    assert r.returncode == 1, r.stdout
    out = r.stdout
    assert "[SC2086] [shellcheck]" in out, out
    assert "strcpy" in out and "[flawfinder]" in out, out
    assert "[cppcheck:memleak]" in out and "[cppcheck:nullPointerRedundantCheck]" in out, out
    assert "[clang-analyzer-unix.Malloc]" in out and "[clang-analyzer-security.insecureAPI.strcpy]" in out, out
    assert "[-Wanalyzer-possible-null-argument]" in out, out
