"""Request signing: every request to a labelport server is signed with the user's SSH private key.

The signed message is five lines::

    METHOD
    PATH?QUERY              (the request target exactly as sent; no "?" when there is no query)
    SHA256-hex(body)
    timestamp               (Unix seconds)
    nonce                   (random, used once)

Ed25519 keys sign it as is; RSA keys with PKCS#1 v1.5 and SHA-256; ECDSA keys with ECDSA-SHA256.
The request carries ``X-Labelport-Key`` (the key's OpenSSH SHA256 fingerprint),
``X-Labelport-Timestamp``, ``X-Labelport-Nonce`` and ``X-Labelport-Signature`` (base64).

The server refuses a request that is unsigned, signed by a key it does not know, badly signed, more
than :data:`MAX_SKEW_SECONDS` away from its clock, or that reuses a nonce. Every refusal is the same
:class:`~labelport.errors.AuthError`, so a refusal tells an attacker nothing.

>>> from cryptography.hazmat.primitives.asymmetric import ed25519
>>> from labelport.keys import Identity
>>> identity = Identity(ed25519.Ed25519PrivateKey.generate())
>>> headers = sign_request(identity, "GET", "/projects", b"")
>>> sorted(headers)
['X-Labelport-Key', 'X-Labelport-Nonce', 'X-Labelport-Signature', 'X-Labelport-Timestamp']
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Mapping
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from labelport.errors import AuthError, KeyFileError
from labelport.keys import Identity, PrivateKey, PublicKey, fingerprint_of, load_public_key
from labelport.store.base import LabelStore, UserRecord

KEY_HEADER = "X-Labelport-Key"
TIMESTAMP_HEADER = "X-Labelport-Timestamp"
NONCE_HEADER = "X-Labelport-Nonce"
SIGNATURE_HEADER = "X-Labelport-Signature"

#: How far a request's timestamp may be from the server's clock, either way.
MAX_SKEW_SECONDS = 300
#: How long the server remembers a nonce: past this a replay is refused for its stale timestamp anyway.
NONCE_KEEP_SECONDS = 2 * MAX_SKEW_SECONDS + 60

_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


def signing_message(method: str, target: str, body: bytes, timestamp: str, nonce: str) -> bytes:
    """The bytes a request's signature covers.

    >>> signing_message("get", "/projects?x=1", b"", "1700000000", "n" * 16).decode().splitlines()[:2]
    ['GET', '/projects?x=1']
    """
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{target}\n{digest}\n{timestamp}\n{nonce}".encode()


def sign(private_key: PrivateKey, message: bytes) -> bytes:
    """Sign ``message`` the way the server verifies it for this kind of key.

    >>> from cryptography.hazmat.primitives.asymmetric import ed25519
    >>> key = ed25519.Ed25519PrivateKey.generate()
    >>> verify(key.public_key(), sign(key, b"GET"), b"GET")
    True
    """
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(message)
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return private_key.sign(message, ec.ECDSA(hashes.SHA256()))


def verify(public_key: PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is the key's signature of ``message`` (never raises).

    >>> from cryptography.hazmat.primitives.asymmetric import ec
    >>> key = ec.generate_private_key(ec.SECP256R1())
    >>> verify(key.public_key(), sign(key, b"GET"), b"POST")
    False
    """
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, message)
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_request(
    identity: Identity,
    method: str,
    target: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers that sign one request; ``target`` is the path and query as sent.

    Called as ``sign_request(identity, "POST", "/projects", b'{"title": "cats"}')``.
    """
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    once = nonce or secrets.token_urlsafe(18)
    signature = sign(identity.private_key, signing_message(method, target, body, stamp, once))
    return {
        KEY_HEADER: identity.fingerprint,
        TIMESTAMP_HEADER: stamp,
        NONCE_HEADER: once,
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
    }


@lru_cache(maxsize=1024)
def _public_key(text: str) -> PublicKey:
    return load_public_key(text)


class Verifier:
    """Checks signed requests against the users in a store; :meth:`authenticate` names the user.

    Called as ``Verifier(store).authenticate("GET", "/projects", b"", request.headers)``.
    """

    def __init__(
        self,
        store: LabelStore,
        *,
        max_skew_seconds: float = MAX_SKEW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.max_skew_seconds = max_skew_seconds
        self.clock = clock

    def authenticate(self, method: str, target: str, body: bytes, headers: Mapping[str, str]) -> UserRecord:
        """The user who signed this request; :class:`AuthError` (always the same) when there is none."""
        fingerprint = headers.get(KEY_HEADER, "")
        stamp = headers.get(TIMESTAMP_HEADER, "")
        nonce = headers.get(NONCE_HEADER, "")
        encoded = headers.get(SIGNATURE_HEADER, "")
        # isascii: str.isdigit takes digits that int() does not ("²") and others it reads ("٣")
        if not (
            _FINGERPRINT.fullmatch(fingerprint) and stamp.isascii() and stamp.isdigit() and len(stamp) <= 12
        ):
            raise AuthError()
        if not (_NONCE.fullmatch(nonce) and encoded and len(encoded) <= 2048):
            raise AuthError()
        now = self.clock()
        if abs(now - int(stamp)) > self.max_skew_seconds:
            raise AuthError()
        try:
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise AuthError() from None
        user = self.store.user_by_fingerprint(fingerprint)
        key_text = self.store.public_key(fingerprint)
        if user is None or not key_text:
            raise AuthError()
        try:
            public_key = _public_key(key_text)
        except KeyFileError:
            raise AuthError() from None
        if fingerprint_of(public_key) != fingerprint:
            raise AuthError()
        if not verify(public_key, signature, signing_message(method, target, body, stamp, nonce)):
            raise AuthError()
        # only a correctly signed request may record a nonce: nobody else can write to the table
        if not self.store.use_nonce(
            f"{fingerprint} {nonce}", now, max(NONCE_KEEP_SECONDS, 2 * self.max_skew_seconds)
        ):
            raise AuthError()
        return user
