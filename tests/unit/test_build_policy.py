"""The build refuses an insecure policy: `POLICY=FILE ./build.sh policy`
runs `bulwark policy check` and stops on any FAIL, naming the rule."""

import os
import subprocess

import pytest

pytestmark = pytest.mark.unit

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSECURE = os.path.join(REPO, "policy", "examples", "insecure")


def build_policy(policy):
    if not os.path.isfile(os.path.join(REPO, "build", "bin", "bulwark")):
        pytest.fail("build/bin/bulwark missing: run ./build.sh first", pytrace=False)
    env = dict(os.environ, POLICY=policy)
    return subprocess.run([os.path.join(REPO, "build.sh"), "policy"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_default_policy_is_accepted():
    p = build_policy(os.path.join(REPO, "policy", "default.yaml"))
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("rule", ["cors-wildcard", "hsts", "login-limit", "jwt-alg-none", "tls-version"])
def test_insecure_policy_is_refused(rule):
    p = build_policy(os.path.join(INSECURE, rule + ".yaml"))
    assert p.returncode != 0
    assert "FAIL %s:" % rule in p.stderr and "Fix:" in p.stderr, p.stderr
    assert "is refused" in p.stderr


def test_unloadable_policy_is_refused(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("version: 1\nhosts: [\n")
    p = build_policy(str(f))
    assert p.returncode != 0
    assert str(f) in p.stderr
