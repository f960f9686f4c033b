"""Secrets volumes for the PID 1 tests: the demo secrets as image/mksecrets
makes them, or deliberately broken ones that mksecrets refuses to make
(mkfs.erofs keeps the staged owners and modes; the label is then written
with mksecrets' own code)."""

import importlib.machinery
import importlib.util
import os
import shutil
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_SECRETS = os.path.join(REPO, "build", "demo", "secrets")
MKSECRETS = os.path.join(REPO, "image", "mksecrets")


def _mksecrets_module():
    loader = importlib.machinery.SourceFileLoader("mksecrets", MKSECRETS)
    spec = importlib.util.spec_from_loader("mksecrets", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def good_volume(out, src=DEMO_SECRETS):
    r = subprocess.run([MKSECRETS, src, out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout.decode()
    return out


def staged(tmp, drop=()):
    """The demo secrets staged as PID 1 wants them (1000:1000, 0400, dir 0500)."""
    root = os.path.join(tmp, "staged")
    os.makedirs(root)
    for name in sorted(os.listdir(DEMO_SECRETS)):
        if name in drop:
            continue
        dst = os.path.join(root, name)
        shutil.copyfile(os.path.join(DEMO_SECRETS, name), dst)
        os.chown(dst, 1000, 1000)
        os.chmod(dst, 0o400)
    os.chown(root, 1000, 1000)
    os.chmod(root, 0o500)
    return root


def raw_volume(root, out):
    """mkfs.erofs keeping owners and modes as staged, then our label."""
    r = subprocess.run(["mkfs.erofs", "--quiet", "-x-1", "-T0", out, root],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, r.stdout.decode()
    _mksecrets_module().set_label(out)
    return out
