"""Signed-cookie sessions that end after a quiet spell and change identity at sign-in.

The whole session lives in one cookie signed with the project's secret (itsdangerous),
so any process of the project can read it. Each request stamps the time it was
last used; a cookie older than `session_idle_minutes` is treated as signed out.
The clock is injectable so tests can let time pass.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .bearer import bearer_token

COOKIE_NAME = "crm_session"
PREFERENCES = ("locale", "large_text")  # kept when a session is renewed or expires
SEEN = "seen"


class Session(dict):
    """The session's values (a dict, so `request.session` works) plus identity changes."""

    def ensure_identity(self) -> None:
        self.setdefault("sid", secrets.token_urlsafe(18))
        self.setdefault("csrf", secrets.token_urlsafe(32))

    def renew(self) -> None:
        """Start a new session (new id and CSRF token) keeping only the preferences.

        Called on sign-in and sign-out, so a session id known before can never
        become a signed-in one (no fixation).
        """
        kept = {key: self[key] for key in PREFERENCES if key in self}
        self.clear()
        self.update(kept)
        self.ensure_identity()


class SessionMiddleware:
    """Load the session into `scope["session"]`; write it back, refreshed, on every response.

    Requests with a bearer token (programs) get an empty session and no cookie: they
    have no use for one.
    """

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str,
        idle_minutes: int = 30,
        https_only: bool = False,
        clock: Callable[[], dt.datetime] = dt.datetime.now,
        cookie_name: str = COOKIE_NAME,
    ) -> None:
        if not secret_key:
            raise ValueError("a session secret key is required")
        if isinstance(idle_minutes, bool) or not isinstance(idle_minutes, int) or idle_minutes < 1:
            raise ValueError("idle_minutes must be a whole number of at least 1")
        self.app = app
        self.serializer = URLSafeSerializer(secret_key, salt="crm.session")
        self.idle_seconds = idle_minutes * 60
        self.clock = clock
        self.cookie_name = cookie_name
        flags = f"Path=/; Max-Age={self.idle_seconds}; HttpOnly; SameSite=Lax"
        self.cookie_flags = flags + ("; Secure" if https_only else "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        if bearer_token(connection.headers) is not None:
            scope["session"] = Session()
            await self.app(scope, receive, send)
            return
        now = self.clock().timestamp()
        session = self._load(connection.cookies.get(self.cookie_name), now)
        session.ensure_identity()
        scope["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = self.serializer.dumps({**session, SEEN: int(self.clock().timestamp())})
                MutableHeaders(scope=message).append("Set-Cookie", f"{self.cookie_name}={value}; {self.cookie_flags}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, cookie: str | None, now: float) -> Session:
        """The session in the cookie; a forged or expired one yields a fresh session."""
        if not cookie:
            return Session()
        try:
            data: Any = self.serializer.loads(cookie)
        except (BadSignature, ValueError, TypeError):
            return Session()
        if not isinstance(data, dict):
            return Session()
        seen = data.pop(SEEN, None)
        session = Session(data)
        if not isinstance(seen, (int, float)) or now - seen > self.idle_seconds:
            session.renew()  # idle too long: signed out, preferences kept
        return session
