"""SSH keys: load a private key (Ed25519, RSA or ECDSA; OpenSSH or PEM), name its owner by fingerprint.

The fingerprint is OpenSSH's: ``SHA256:`` and the unpadded base64 of the public key blob's digest,
the same text ``ssh-keygen -lf key.pub`` prints.

>>> from cryptography.hazmat.primitives.asymmetric import ed25519
>>> key = Identity(ed25519.Ed25519PrivateKey.generate())
>>> key.fingerprint.startswith("SHA256:")
True
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from labelport.errors import KeyFileError

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def openssh_public_text(public_key: PublicKey) -> str:
    """The ``ssh-ed25519 AAAA...`` line of a public key."""
    return public_key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def fingerprint_of(public_key: PublicKey) -> str:
    """OpenSSH's SHA256 fingerprint of a public key."""
    blob = base64.b64decode(openssh_public_text(public_key).split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def load_public_key(text: str, *, file: str | None = None) -> PublicKey:
    """Read one OpenSSH public key line (``ssh-ed25519 AAAA... comment``)."""
    try:
        key = serialization.load_ssh_public_key(text.strip().encode())
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(
            "is not an OpenSSH public key (ssh-ed25519, ssh-rsa or ecdsa-sha2-*).", file=file
        ) from None
    if not isinstance(key, (ed25519.Ed25519PublicKey, rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise KeyFileError(
            "is a kind of key labelport does not accept; use Ed25519, RSA or ECDSA.", file=file
        )
    return key


#: Where the labelport command reads an encrypted key's password from.
PASSWORD_ENV = "LABELPORT_KEY_PASSWORD"


def _load_private(data: bytes, secret: bytes | None) -> object:
    if b"BEGIN OPENSSH PRIVATE KEY" in data:
        return serialization.load_ssh_private_key(data, password=secret)
    return serialization.load_pem_private_key(data, password=secret)


def _encrypted(data: bytes) -> bool:
    """Whether a private key needs a password: opening it without one says so."""
    try:
        _load_private(data, None)
    except TypeError:
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return False


class Identity:
    """A user's private key and the names derived from it."""

    def __init__(self, private_key: PrivateKey) -> None:
        self.private_key = private_key
        self.public_key: PublicKey = private_key.public_key()
        self.fingerprint = fingerprint_of(self.public_key)
        self.public_text = openssh_public_text(self.public_key)

    @classmethod
    def load(
        cls, path: str | Path | None = None, *, text: str | None = None, password: str | None = None
    ) -> Identity:
        """Load a private key from a file or from its text; :class:`KeyFileError` names what is wrong."""
        where = None if path is None else str(path)
        if text is None:
            if path is None:
                raise KeyFileError("give an SSH private key: a path or the key's text.")
            try:
                data = Path(path).read_bytes()
            except FileNotFoundError:
                raise KeyFileError("no such key file.", file=where) from None
            except (IsADirectoryError, PermissionError, OSError) as exc:
                raise KeyFileError(f"cannot read the key file ({exc.strerror or exc}).", file=where) from None
        else:
            data = text.encode()
        if data.lstrip().startswith((b"ssh-", b"ecdsa-sha2-", b"sk-")):
            raise KeyFileError(
                "is a public key; give the private key (the same file name without .pub).", file=where
            )
        secret = password.encode() if password else None
        key: object
        try:
            key = _load_private(data, secret)
        except TypeError:
            raise KeyFileError(
                f"the key is encrypted; give its password (the labelport command reads it from ${PASSWORD_ENV})."
                if secret is None
                else "the key is not encrypted; give no password.",
                file=where,
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            raise KeyFileError(
                f"the password is wrong: the one given (password=, or ${PASSWORD_ENV} to the command) does not open this key."
                if secret is not None and _encrypted(data)
                else "is not an SSH private key labelport can read (OpenSSH or PEM; Ed25519, RSA or ECDSA).",
                file=where,
            ) from None
        if not isinstance(key, (ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise KeyFileError(
                "is a kind of key labelport does not accept; use Ed25519, RSA or ECDSA.", file=where
            )
        return cls(key)


def write_new_key(path: Path) -> Identity:
    """Make a new Ed25519 key at ``path`` (mode 0600, OpenSSH format) and its ``.pub`` beside it.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_new_key(folder / "id_ed25519").fingerprint == Identity.load(folder / "id_ed25519").fingerprint
    True
    >>> (folder / "id_ed25519.pub").read_text().split()[-1]
    'labelport'
    """
    key = ed25519.Ed25519PrivateKey.generate()
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        identity = Identity(key)
        path.with_name(path.name + ".pub").write_text(identity.public_text + " labelport\n", encoding="utf-8")
    except OSError as exc:
        raise KeyFileError(f"cannot write a new key ({exc.strerror or exc}).", file=str(path)) from None
    return identity
