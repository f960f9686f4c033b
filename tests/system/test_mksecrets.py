"""image/mksecrets: the secrets volume's contract, checked on real images
with erofs-utils' own tools (dump.erofs, fsck.erofs) and blkid."""

import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MKSECRETS = os.path.join(REPO, "image", "mksecrets")
SERVICE_UID = 1000
VOLUME_NAME_AT = 1024 + 64  # EROFS superblock offset + volume_name field


def mksecrets(src, out, env=None):
    return subprocess.run([MKSECRETS, str(src), str(out)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60, env=env)


def tool(*cmd):
    r = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0, "%s failed:\n%s" % (" ".join(cmd), r.stdout.decode())
    return r.stdout.decode()


@pytest.fixture
def secrets_dir(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "tls-key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n")
    (d / "tls-cert.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n" + b"A" * 3000)
    (d / "users.json").write_bytes(b'{"alice": "x"}\n')
    os.chmod(d / "users.json", 0o644)
    return d


@pytest.fixture
def image(secrets_dir, tmp_path):
    out = tmp_path / "secrets.img"
    r = mksecrets(secrets_dir, out)
    assert r.returncode == 0, r.stderr.decode()
    return out


def inode(img, path):
    text = tool("dump.erofs", "--path=" + path, str(img))
    uid, gid = re.search(r"Uid: (\d+)\s+Gid: (\d+)", text).groups()
    mode = re.search(r"Access: (0\d+)/", text).group(1)
    return int(uid), int(gid), int(mode, 8)


def test_same_input_same_bytes(secrets_dir, tmp_path):
    a, b = tmp_path / "a.img", tmp_path / "b.img"
    assert mksecrets(secrets_dir, a).returncode == 0
    # Same files created in another order, at another time, with other modes.
    other = tmp_path / "other"
    other.mkdir()
    for name in sorted(os.listdir(secrets_dir), reverse=True):
        (other / name).write_bytes((secrets_dir / name).read_bytes())
        os.chmod(other / name, 0o666)
    assert mksecrets(other, b).returncode == 0
    assert a.read_bytes() == b.read_bytes()


def test_different_content_different_uuid(secrets_dir, tmp_path, image):
    (secrets_dir / "tls-key.pem").write_bytes(b"another key\n")
    other = tmp_path / "other.img"
    assert mksecrets(secrets_dir, other).returncode == 0
    uuid_of = lambda p: re.search(r'UUID="([^"]+)"', tool("blkid", "-p", str(p))).group(1)
    assert uuid_of(image) != uuid_of(other)


def test_label(image):
    with open(image, "rb") as f:
        f.seek(VOLUME_NAME_AT)
        assert f.read(16) == b"bulwark-secrets\0"
    probe = tool("blkid", "-p", str(image))  # libblkid checks the superblock checksum too
    assert 'LABEL="bulwark-secrets"' in probe and 'TYPE="erofs"' in probe


def test_checksum_still_valid(image):
    tool("fsck.erofs", str(image))


def test_owner_and_modes(image, secrets_dir, tmp_path):
    assert inode(image, "/") == (SERVICE_UID, SERVICE_UID, 0o500)
    for name in os.listdir(secrets_dir):
        assert inode(image, "/" + name) == (SERVICE_UID, SERVICE_UID, 0o400), name
    out = tmp_path / "extracted"
    tool("fsck.erofs", "--extract=%s" % out, str(image))
    assert sorted(os.listdir(out)) == sorted(os.listdir(secrets_dir))
    for name in os.listdir(secrets_dir):
        assert (out / name).read_bytes() == (secrets_dir / name).read_bytes()


def test_fixed_timestamps(image):
    assert "Timestamp: 1970-01-01 00:00:00" in tool("dump.erofs", "--path=/tls-key.pem", str(image))
    assert "Thu Jan  1 00:00:00 1970" in tool("dump.erofs", "-s", str(image))


def refused(src, tmp_path, what):
    out = tmp_path / "refused.img"
    r = mksecrets(src, out)
    msg = r.stderr.decode()
    assert r.returncode == 1, "accepted %s: %s" % (what, msg)
    assert not out.exists(), "left an image behind after refusing %s" % what
    lines = msg.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mksecrets: refused: "), msg
    return lines[0]


def test_refuses_subdirectory(secrets_dir, tmp_path):
    (secrets_dir / "sub").mkdir()
    assert "is a directory" in refused(secrets_dir, tmp_path, "a subdirectory")


def test_refuses_symlink(secrets_dir, tmp_path):
    os.symlink("tls-key.pem", secrets_dir / "link.pem")
    assert "symlink" in refused(secrets_dir, tmp_path, "a symlink")


def test_refuses_dangling_symlink(secrets_dir, tmp_path):
    os.symlink("/nonexistent", secrets_dir / "dangling")
    assert "symlink" in refused(secrets_dir, tmp_path, "a dangling symlink")


def test_refuses_special_file(secrets_dir, tmp_path):
    os.mkfifo(secrets_dir / "fifo")
    assert "special file" in refused(secrets_dir, tmp_path, "a FIFO")


def test_refuses_big_file(secrets_dir, tmp_path):
    (secrets_dir / "big").write_bytes(b"x" * ((1 << 20) + 1))
    assert "limit" in refused(secrets_dir, tmp_path, "a file over 1 MiB")


def test_accepts_exactly_1_mib(secrets_dir, tmp_path):
    (secrets_dir / "big").write_bytes(b"x" * (1 << 20))
    assert mksecrets(secrets_dir, tmp_path / "ok.img").returncode == 0


@pytest.mark.parametrize("name", ["new\nline", "tab\tname", "del\x7f", "caf\xe9"])
def test_refuses_unprintable_name(secrets_dir, tmp_path, name):
    (secrets_dir / name).write_bytes(b"x")
    assert "printable" in refused(secrets_dir, tmp_path, "the name %r" % name)


def test_refuses_missing_directory(tmp_path):
    refused(tmp_path / "nope", tmp_path, "a missing directory")


def test_refuses_file_as_directory(secrets_dir, tmp_path):
    assert "not a directory" in refused(secrets_dir / "tls-key.pem", tmp_path, "a file as DIR")
