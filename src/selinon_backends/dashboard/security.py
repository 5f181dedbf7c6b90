"""Who may open the dashboard: loopback by default, a token for anything else.

* :func:`check_bind` refuses to serve on a non-loopback address without a token;
* :class:`TokenGuard` (ASGI middleware) answers 401 to a request that does not carry the
  token: as ``Authorization: Bearer TOKEN``, as ``?token=TOKEN`` (which also sets a cookie, so
  that the links of the pages and the live updates work without it), or as that cookie;
* every response carries headers that keep the pages from being framed, sniffed, or leaking
  their address, and a Content-Security-Policy that allows only the package's own files.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

__all__ = ["LOOPBACK_HOSTS", "TOKEN_ENVVAR", "TokenGuard", "check_bind", "is_loopback"]

TOKEN_ENVVAR = "SELINON_DASHBOARD_TOKEN"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
COOKIE = "selinon_dashboard"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    return host.strip("[]") in LOOPBACK_HOSTS or host.startswith("127.")


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve on ``host`` without a token unless it is a loopback address.

    Raises:
        ValueError: ``host`` is not loopback and no token is set (or the token is empty).
    """
    if token is not None and not token.strip():
        raise ValueError("the dashboard token is empty: give a secret --token or leave it out")
    if not is_loopback(host) and token is None:
        raise ValueError(
            f"refusing to serve the dashboard on {host!r} without a token: anyone who reaches "
            f"that address could read every flow's arguments and results. Give --token SECRET "
            f"(or set {TOKEN_ENVVAR}), or bind to 127.0.0.1 (the default)."
        )


def _cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"selinon-dashboard-cookie", hashlib.sha256).hexdigest()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class TokenGuard:
    """ASGI middleware: the token check (when a token is set) and the security headers.

    Args:
        app: the application to guard.
        token: the secret; ``None`` lets every request through (loopback use).
    """

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token
        self._cookie = None if token is None else _cookie_value(token)

    def _verdict(self, scope: Scope) -> tuple[bool, bool]:
        """``(allowed, set_cookie)`` for a request."""
        if self.token is None or self._cookie is None:
            return True, False
        auth = _header(scope, b"authorization") or ""
        if auth.lower().startswith("bearer ") and hmac.compare_digest(
            auth[7:].strip().encode(), self.token.encode()
        ):
            return True, False
        query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
        for given in query.get("token", []):
            if hmac.compare_digest(given.encode(), self.token.encode()):
                return True, True
        cookies = SimpleCookie()
        cookies.load(_header(scope, b"cookie") or "")
        found = cookies.get(COOKIE)
        if found is not None and hmac.compare_digest(found.value.encode(), self._cookie.encode()):
            return True, False
        return False, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on with the headers added."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowed, set_cookie = self._verdict(scope)
        if not allowed:
            await _unauthorized(send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ())) + SECURITY_HEADERS
                if set_cookie and self._cookie is not None:
                    cookie = f"{COOKIE}={self._cookie}; Path=/; HttpOnly; SameSite=Strict"
                    headers.append((b"set-cookie", cookie.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def _unauthorized(send: Send) -> None:
    body = (
        b"401 Unauthorized: this dashboard needs its token. Send the header "
        b"'Authorization: Bearer TOKEN', or open the address once with ?token=TOKEN.\n"
    )
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"www-authenticate", b'Bearer realm="selinon-dashboard"'),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
