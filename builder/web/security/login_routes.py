"""Sign in, sign out, and the two preferences anyone may set (language, large text).

Every route here is a form POST (or the login page), so the CSRF middleware has
already checked the token, including on `POST /login` (login CSRF).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from builder.accounts import authenticate
from builder.web.i18n import translate

from .audit_events import record_sign_in_event
from .authentication import STAMP, USER_ID, client_address
from .locales import supported_locales
from .redirects import safe_next
from .refusals import refusal
from .rendering import render
from .session_registry import end_session, open_session
from .sessions import Session
from .settings import SecuritySettings
from .throttling import LoginThrottle

MAX_NAME = 64
TRUE_WORDS, FALSE_WORDS = ("on", "1", "true", "yes"), ("off", "0", "false", "no")


def printable(text: str) -> str:
    """`text` with control characters replaced: it is counted, stored and shown (and PostgreSQL refuses NUL)."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


class SignIn:
    """The sign-in endpoints of one project, sharing its engine, settings and throttle."""

    def __init__(self, runtime: Any, settings: SecuritySettings) -> None:
        self.engine = runtime.engine
        self.blueprint = runtime.blueprint
        self.settings = settings
        self.locales = supported_locales(self.blueprint.app.locales)
        self.throttle = LoginThrottle(
            self.engine,
            settings.login_max_failures,
            settings.login_max_failures_per_address,
            settings.login_window,
            settings.clock,
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/login", self.login_page, methods=["GET"], name="login"),
            Route("/login", self.login, methods=["POST"], name="login_submit"),
            Route("/logout", self.logout, methods=["POST"], name="logout"),
            Route("/locale", self.set_locale, methods=["POST"], name="set_locale"),
            Route("/large-text", self.set_large_text, methods=["POST"], name="set_large_text"),
        ]

    def _page(
        self, request: Request, status: int = 200, error: str | None = None, username: str = "", next_path: str = "/"
    ) -> Response:
        return render(
            request,
            self.blueprint,
            "login.html",
            status,
            error=error,
            username=username,
            next=next_path,
            locales=self.locales,
        )

    async def login_page(self, request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if request.state.actor is not None:
            return RedirectResponse(next_path, status_code=303)
        return self._page(request, next_path=next_path)

    async def login(self, request: Request) -> Response:
        form = await request.form()
        name, password = printable(_text(form, "username").strip())[:MAX_NAME], _text(form, "password")
        next_path = safe_next(_text(form, "next"))
        locale = request.state.locale
        if not name or not password:
            return self._page(request, 400, translate("security.login_missing", locale), name, next_path)
        address = client_address(request.scope) or "unknown"
        now = self.settings.clock()
        if not await anyio.to_thread.run_sync(self.throttle.reserve, name, address):  # counted before checked
            await anyio.to_thread.run_sync(
                record_sign_in_event, self.engine, "login_failed", name, None, address, now, "throttled"
            )
            message = translate("security.throttled", locale, minutes=self.settings.login_window_minutes)
            response = self._page(request, 429, message, name, next_path)
            response.headers["Retry-After"] = str(self.settings.login_window_minutes * 60)
            return response
        user = await anyio.to_thread.run_sync(authenticate, self.engine, name, password)
        if user is None:
            await anyio.to_thread.run_sync(self._failed, name, address, now)
            return self._page(request, 400, translate("security.login_failed", locale), name, next_path)
        await anyio.to_thread.run_sync(self._succeeded, name, user.role, address, now)
        session: Session = request.scope["session"]
        session.renew()  # a new session id and CSRF token: no fixation
        session[USER_ID], session[STAMP] = user.id, user.credential_stamp
        await anyio.to_thread.run_sync(open_session, self.engine, session["sid"], user.id, self.settings.clock())
        if user.locale in self.locales and "locale" not in session:
            session["locale"] = user.locale
        return RedirectResponse(next_path, status_code=303)

    def _failed(self, name: str, address: str, now: dt.datetime) -> None:
        # The attempt reserved before the check stays counted: it is the failure.
        record_sign_in_event(self.engine, "login_failed", name, None, address, now)

    def _succeeded(self, name: str, role: str, address: str, now: dt.datetime) -> None:
        self.throttle.clear_account(name)
        record_sign_in_event(self.engine, "login", name, role, address, now)

    async def logout(self, request: Request) -> Response:
        actor = request.state.actor
        if actor is not None and request.state.auth == "session":
            await anyio.to_thread.run_sync(
                record_sign_in_event,
                self.engine,
                "logout",
                actor.name,
                actor.role,
                actor.address,
                self.settings.clock(),
            )
        session = request.scope.get("session")
        if isinstance(session, Session):
            if session.get("sid"):  # the cookie's sign-in ends on the server too: a copy of it is useless
                await anyio.to_thread.run_sync(end_session, self.engine, session["sid"], self.settings.clock())
            session.renew()  # signed out; only the language and text size stay
        return RedirectResponse("/login", status_code=303)

    async def set_locale(self, request: Request) -> Response:
        form = await request.form()
        chosen = _text(form, "locale")
        if chosen not in self.locales:
            return refusal(request.scope, 400, "invalid", translate("security.bad_request", request.state.locale))
        request.scope["session"]["locale"] = chosen
        return RedirectResponse(safe_next(_text(form, "next")), status_code=303)

    async def set_large_text(self, request: Request) -> Response:
        form = await request.form()
        wanted = _text(form, "large_text").lower()
        session = request.scope["session"]
        if wanted in TRUE_WORDS:
            session["large_text"] = True
        elif wanted in FALSE_WORDS:
            session["large_text"] = False
        else:
            session["large_text"] = not session.get("large_text", False)
        return RedirectResponse(safe_next(_text(form, "next")), status_code=303)


def auth_routes(runtime: Any, settings: SecuritySettings) -> list[BaseRoute]:
    """`GET/POST /login`, `POST /logout`, `POST /locale`, `POST /large-text`."""
    return SignIn(runtime, settings).routes()
