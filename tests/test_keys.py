"""SSH keys: each kind in each format, passwords, unreadable files, and OpenSSH's fingerprint."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from conftest import write_key
from labelport import KeyFileError
from labelport.keys import Identity, load_public_key

KINDS = {"ed25519": ed25519.Ed25519PrivateKey, "rsa": rsa.RSAPrivateKey, "ecdsa": ec.EllipticCurvePrivateKey}

#: An Ed25519 key from the seed bytes 0..31, and the fingerprint `ssh-keygen -lf` printed for its public key.
FIXED_SEED = bytes(range(32))
FIXED_PUBLIC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
FIXED_FINGERPRINT = "SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg"


def independent_fingerprint(public_line: str) -> str:
    """OpenSSH's SHA256 fingerprint computed here from the key line, without labelport."""
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def public_line_of(path: Path, password: bytes | None = None) -> str:
    """The OpenSSH public key line of a private key file, through cryptography directly."""
    data = path.read_bytes()
    if b"OPENSSH" in data:
        key = serialization.load_ssh_private_key(data, password)
    else:
        key = serialization.load_pem_private_key(data, password)
    public = key.public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


@pytest.mark.parametrize("fmt", ["openssh", "pem"])
@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_load_each_kind_and_format(tmp_path: Path, kind: str, fmt: str) -> None:
    path = write_key(tmp_path / f"id_{kind}", kind, fmt)
    identity = Identity.load(path)
    assert isinstance(identity.private_key, KINDS[kind])
    assert identity.public_text == public_line_of(path)
    assert identity.fingerprint == independent_fingerprint(public_line_of(path))
    assert Identity.load(text=path.read_text()).fingerprint == identity.fingerprint
    assert Identity.load(str(path)).fingerprint == identity.fingerprint


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_fingerprint_matches_ssh_keygen(tmp_path: Path, kind: str) -> None:
    path = write_key(tmp_path / f"id_{kind}", kind, "openssh")
    public = tmp_path / f"id_{kind}.pub"
    public.write_text(public_line_of(path) + " test\n")
    expected = independent_fingerprint(public_line_of(path))
    ssh_keygen = shutil.which("ssh-keygen")
    if ssh_keygen is not None:
        out = subprocess.run(
            [ssh_keygen, "-lf", str(public)], capture_output=True, text=True, check=True
        ).stdout
        expected = out.split()[1]
        assert expected == independent_fingerprint(public_line_of(path))
    assert Identity.load(path).fingerprint == expected


def test_fingerprint_of_a_fixed_key_matches_the_recorded_ssh_keygen_output() -> None:
    identity = Identity(ed25519.Ed25519PrivateKey.from_private_bytes(FIXED_SEED))
    assert identity.public_text == FIXED_PUBLIC
    assert identity.fingerprint == FIXED_FINGERPRINT
    assert independent_fingerprint(FIXED_PUBLIC) == FIXED_FINGERPRINT


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_encrypted_pem_with_and_without_password(tmp_path: Path, kind: str) -> None:
    path = write_key(tmp_path / "enc", kind, "pem", password=b"s3cret")
    assert Identity.load(path, password="s3cret").fingerprint == independent_fingerprint(
        public_line_of(path, b"s3cret")
    )
    with pytest.raises(KeyFileError, match="the key is encrypted; give its password") as caught:
        Identity.load(path)
    assert caught.value.file == str(path)
    with pytest.raises(KeyFileError, match="password is wrong"):
        Identity.load(path, password="wrong")


def test_plain_key_with_a_password_is_refused(tmp_path: Path) -> None:
    path = write_key(tmp_path / "plain", "ed25519", "openssh")
    with pytest.raises(KeyFileError, match="not encrypted; give no password"):
        Identity.load(path, password="s3cret")


def test_encrypted_openssh_key_without_password(tmp_path: Path) -> None:
    """ssh-keygen's default output: an encrypted OpenSSH key. Without its password it is refused clearly."""
    ssh_keygen = shutil.which("ssh-keygen")
    if ssh_keygen is None:
        pytest.skip("ssh-keygen is not installed")
    path = tmp_path / "id_ed25519"
    subprocess.run([ssh_keygen, "-q", "-t", "ed25519", "-N", "s3cret", "-f", str(path)], check=True)
    with pytest.raises(KeyFileError, match="the key is encrypted; give its password"):
        Identity.load(path)


def test_encrypted_openssh_key_with_password(tmp_path: Path) -> None:
    """Reading an encrypted OpenSSH key needs cryptography's bcrypt KDF (the bcrypt package)."""
    pytest.importorskip("bcrypt", reason="the bcrypt package is not installed; cryptography needs it here")
    path = write_key(tmp_path / "enc", "ed25519", "openssh", password=b"s3cret")
    assert Identity.load(path, password="s3cret").fingerprint == independent_fingerprint(
        public_line_of(path, b"s3cret")
    )


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="no such key file") as caught:
        Identity.load(tmp_path / "absent")
    assert caught.value.file == str(tmp_path / "absent")


def test_directory_instead_of_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read the key file") as caught:
        Identity.load(tmp_path)
    assert caught.value.file == str(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_key_file(tmp_path: Path) -> None:
    path = write_key(tmp_path / "locked", "ed25519", "openssh")
    path.chmod(0)
    with pytest.raises(KeyFileError, match="cannot read the key file"):
        Identity.load(path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a key at all\n",
        b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n",
        os.urandom(64),
    ],
)
def test_garbage_key_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(content)
    with pytest.raises(KeyFileError, match="is not an SSH private key") as caught:
        Identity.load(path)
    assert caught.value.file == str(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_no_path_and_no_text() -> None:
    with pytest.raises(KeyFileError, match="give an SSH private key"):
        Identity.load()


def test_a_public_key_is_not_a_private_key(tmp_path: Path) -> None:
    path = tmp_path / "id.pub"
    path.write_text(FIXED_PUBLIC + "\n")
    with pytest.raises(KeyFileError):
        Identity.load(path)


def test_load_public_key() -> None:
    key = load_public_key(FIXED_PUBLIC + " someone@host\n")
    assert isinstance(key, ed25519.Ed25519PublicKey)
    with pytest.raises(KeyFileError, match="is not an OpenSSH public key"):
        load_public_key("ssh-ed25519 garbage", file="x.pub")
