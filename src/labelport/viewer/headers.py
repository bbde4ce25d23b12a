"""Security headers on every response of an app that serves the viewer.

The viewer's pages load only their own script and style sheet (no inline script or style: styles the
script sets go through the CSSOM, which a Content-Security-Policy allows), talk only to their own
origin, and show images from their own origin or, for a data unit whose location is an http(s) URL,
from that URL. No page may be framed (clickjacking), and no address is sent on as a referrer (a
viewer's URLs name projects and units).

>>> SECURITY_HEADERS["x-frame-options"], SECURITY_HEADERS["referrer-policy"]
('DENY', 'no-referrer')
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

#: What a viewer page may load: its own script and styles; images and video also from http(s) URLs
#: (a unit located at a URL is loaded by the browser), masks as ``data:`` URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; "
    "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'"
)

#: The headers every response carries.
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
}

_RAW = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every HTTP response (a route's own value wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in _RAW if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
