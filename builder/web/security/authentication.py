"""Who is asking: sets `request.state.actor`, `.locale`, `.csrf_token` and `.large_text`.

A browser is identified by its session; the account is looked up again on every
request, so disabling a user or changing their password ends their sessions at
once. A program sends `Authorization: Bearer <token>`; a wrong or revoked token is
answered with 401 straight away rather than treated as anonymous.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import anyio
import sqlalchemy as sa
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from builder.accounts import actor_for_token, get_user
from builder.records import Actor
from builder.web.i18n import translate

from .bearer import bearer_token
from .locales import choose_locale, supported_locales
from .refusals import refusal
from .session_registry import session_is_live
from .sessions import Session

USER_ID, STAMP = "uid", "stamp"


def client_address(scope: Scope) -> str | None:
    """The peer's address (run uvicorn with --proxy-headers behind a trusted proxy)."""
    client = scope.get("client")
    return str(client[0])[:64] if client else None


class AuthenticationMiddleware:
    """Find the actor of each request (or None) and the request's language and preferences."""

    def __init__(
        self,
        app: ASGIApp,
        engine: sa.Engine,
        blueprint: Any,
        clock: Callable[[], dt.datetime] = dt.datetime.now,
        session_max_age: dt.timedelta = dt.timedelta(hours=12),
    ) -> None:
        if not isinstance(engine, sa.Engine):
            raise TypeError("engine must be an SQLAlchemy Engine")
        self.app = app
        self.engine = engine
        self.clock = clock
        self.session_max_age = session_max_age
        self.locales = supported_locales(blueprint.app.locales)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        session = scope.get("session")
        if not isinstance(session, dict):
            session = scope["session"] = Session()
        locale = choose_locale(session.get("locale"), connection.headers.get("accept-language"), self.locales)
        address = client_address(scope)
        state: dict[str, Any] = dict(scope.get("state") or {})
        state.update(locale=locale, actor=None, auth=None, csrf_token="", large_text=False)
        scope["state"] = state  # a fresh dict: nothing leaks between requests
        token = bearer_token(connection.headers)
        if token is not None:
            actor = None
            if token:  # database work runs in a worker thread: a slow query must not stall the server
                actor = await anyio.to_thread.run_sync(
                    lambda: actor_for_token(self.engine, token, address=address, locale=locale)
                )
            if actor is None:
                response = refusal(
                    scope,
                    401,
                    "invalid_token",
                    translate("security.invalid_token", locale),
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
                await response(scope, receive, send)
                return
            state.update(actor=actor, auth="bearer")
        else:
            actor = await anyio.to_thread.run_sync(self._session_actor, session, locale, address)  # may renew
            state.update(
                actor=actor,
                auth="session" if actor is not None else None,
                csrf_token=session.get("csrf", ""),
                large_text=bool(session.get("large_text")),
            )
        await self.app(scope, receive, send)

    def _session_actor(self, session: dict, locale: str, address: str | None) -> Actor | None:
        user_id = session.get(USER_ID)
        if not isinstance(user_id, int):
            return None
        user = get_user(self.engine, user_id)
        live = user is not None and session_is_live(
            self.engine, str(session.get("sid", "")), user.id, self.clock(), self.session_max_age
        )
        if user is None or not live or user.disabled or user.credential_stamp != session.get(STAMP):
            if isinstance(session, Session):
                session.renew()  # signed out, expired, or the account is gone, disabled or has a new password
            return None
        return Actor(id=user.id, name=user.name, role=user.role, locale=locale, address=address)
