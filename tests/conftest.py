"""Shared fixtures: a throw-away LABELPORT_HOME, SSH keys of each kind, an embedded client, the shared fixtures."""

from __future__ import annotations

import os
import shutil
import tempfile
from multiprocessing.util import get_temp_dir
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from labelport import UserClient

#: the PostgreSQL cluster and the server fixtures, registered before any test module imports them
#: (a module that imports ``pg`` plainly would otherwise keep pytest from rewriting its asserts)
pytest_plugins = ["pg", "test_server"]

SHARED_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


#: the RAM-backed folder the session's temporary files go to, when it has room
MEMORY = Path("/dev/shm")
MEMORY_NEEDED = 4 * 1024**3
MEMORY_KEY = pytest.StashKey[Path]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Put the session's temporary files on /dev/shm when it has room: ``tmp_path`` and ``tempfile``,
    and through ``TMPDIR`` the PostgreSQL cluster and the servers and commands the tests start. SQLite
    syncs each commit and each close to disk, which is slow on a virtual machine's disk and free on
    tmpfs; what is stored and checked is the same. The folder's name is short, as ``/tmp``'s is,
    because the workers' Unix socket paths under it must stay within 107 bytes. It is deleted when
    the session passes and kept for a look when it fails.
    """
    if not (MEMORY.is_dir() and os.access(MEMORY, os.W_OK | os.X_OK)):
        return
    stat = os.statvfs(MEMORY)
    if stat.f_bavail * stat.f_frsize < MEMORY_NEEDED:
        return
    # this process's own multiprocessing folder stays where it was: it is removed at exit, after the session's
    get_temp_dir()
    folder = Path(tempfile.mkdtemp(prefix="lp-", dir=MEMORY))
    folder.chmod(0o711)  # under root PostgreSQL runs as another user and must reach its cluster folder
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = str(folder)
    if config.option.basetemp is None:
        config.option.basetemp = str(folder / "t")
    config.stash[MEMORY_KEY] = folder


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    folder = session.config.stash.get(MEMORY_KEY, None)
    if folder is not None and exitstatus == 0:
        shutil.rmtree(folder, ignore_errors=True)


def write_key(path: Path, kind: str = "ed25519", fmt: str = "openssh", password: bytes | None = None) -> Path:
    """Write a new private key of ``kind`` (ed25519, rsa, ecdsa) in ``fmt`` (openssh, pem) to ``path``."""
    key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    private_format = (
        serialization.PrivateFormat.OpenSSH if fmt == "openssh" else serialization.PrivateFormat.PKCS8
    )
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, private_format, encryption))
    path.chmod(0o600)
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh LABELPORT_HOME for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv("LABELPORT_HOME", str(path))
    return path


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return write_key(tmp_path / "id_ed25519")


@pytest.fixture
def client(home: Path, key_path: Path) -> UserClient:
    """An embedded client on a fresh store."""
    return UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path)


@pytest.fixture
def shared_fixtures() -> Path:
    """../shared/fixtures; tests that need it skip with a reason when it is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"the shared fixtures folder {SHARED_FIXTURES} is absent")
    return SHARED_FIXTURES
