"""Browser sessions for the server's viewer (``/ui/``): browsers hold no SSH keys, so a user signs a
short-lived link with theirs (``labelport login --server URL``), and opening it gives the browser a
session cookie.

The link is ``/ui/login?key=FINGERPRINT&until=UNIX_SECONDS&nonce=N&sig=BASE64``: the signature is the
user's key over the five request-signing lines of ``LOGIN /ui/login`` with ``until`` as the
timestamp. The server takes it once (its nonce is remembered), before ``until``, at most an hour
ahead. The cookie (``labelport_session``) is HttpOnly, SameSite=Strict, Secure when the request came
over HTTPS, and expires after :data:`SESSION_SECONDS`; the database keeps only its token's SHA-256,
so ``/ui/logout`` (or :meth:`Sessions.revoke_user`) ends it on every server process.

>>> from cryptography.hazmat.primitives.asymmetric import ed25519
>>> from labelport.keys import Identity
>>> link = login_link(Identity(ed25519.Ed25519PrivateKey.generate()), "https://labels.example/")
>>> link.startswith("https://labels.example/ui/login?key=SHA256")
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from labelport.errors import AuthError
from labelport.keys import Identity, load_public_key
from labelport.server.signing import (
    NONCE_KEEP_SECONDS,
    SIGNATURE_HEADER,
    sign_request,
    signing_message,
    verify,
)
from labelport.store.base import LabelStore, UserRecord

COOKIE = "labelport_session"
LOGIN_PATH = "/ui/login"
#: How long a session lasts.
SESSION_SECONDS = 12 * 3600
#: The furthest ahead a sign-in link may expire.
MAX_LINK_SECONDS = 3600


def login_link(identity: Identity, server: str, *, seconds: int = 300, now: float | None = None) -> str:
    """A sign-in link for ``server``'s viewer, valid for ``seconds``, signed with the user's key."""
    until = int(time.time() if now is None else now) + seconds
    nonce = secrets.token_urlsafe(18)
    headers = sign_request(identity, "LOGIN", LOGIN_PATH, b"", timestamp=until, nonce=nonce)
    query = urlencode(
        {"key": identity.fingerprint, "until": until, "nonce": nonce, "sig": headers[SIGNATURE_HEADER]}
    )
    return f"{server.rstrip('/')}{LOGIN_PATH}?{query}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Opens sign-in links into sessions and finds the user of a session cookie."""

    def __init__(self, store: LabelStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def open_link(self, params: Mapping[str, str]) -> str:
        """A new session's token for a valid, unused, unexpired link; :class:`AuthError` otherwise."""
        refused = AuthError("This sign-in link is not valid (expired, used, or not signed by a known key).")
        fingerprint, until, nonce, sig = (params.get(k, "") for k in ("key", "until", "nonce", "sig"))
        now = self.clock()
        if (
            not until.isdigit()
            or not now < int(until) <= now + MAX_LINK_SECONDS
            or not 16 <= len(nonce) <= 128
        ):
            raise refused
        public_text = self.store.public_key(fingerprint)
        user = self.store.user_by_fingerprint(fingerprint)
        if not public_text or user is None:
            raise refused
        try:
            signature = base64.b64decode(sig, validate=True)
        except (binascii.Error, ValueError):
            raise refused from None
        message = signing_message("LOGIN", LOGIN_PATH, b"", until, nonce)
        if not verify(load_public_key(public_text), signature, message):
            raise refused
        # Kept as seen at the link's expiry: the request verifier forgets nonces NONCE_KEEP_SECONDS
        # after they were seen, and a link must stay refused until it expires (the bound deleted
        # here is the verifier's own, now - NONCE_KEEP_SECONDS).
        if not self.store.use_nonce(f"login:{nonce}", float(until), int(until) - now + NONCE_KEEP_SECONDS):
            raise refused
        token = secrets.token_urlsafe(32)
        self.store.create_session(token_digest(token), user.id, now, now + SESSION_SECONDS)
        return token

    def user(self, cookies: Mapping[str, str]) -> UserRecord:
        """The user of the request's session cookie; :class:`AuthError` when there is none or it ended."""
        token = cookies.get(COOKIE, "")
        user = self.store.session_user(token_digest(token), self.clock()) if token else None
        if user is None:
            raise AuthError("Sign in first: run `labelport login --server URL` and open the link it prints.")
        return user

    def revoke(self, cookies: Mapping[str, str]) -> None:
        token = cookies.get(COOKIE, "")
        if token:
            self.store.revoke_sessions(token_sha256=token_digest(token))

    def revoke_user(self, user_id: int) -> int:
        """End every session of a user; returns how many."""
        return self.store.revoke_sessions(user_id=user_id)
