"""Cross-site request forgery protection for every unsafe method (POST, PUT, PATCH, DELETE).

A browser request must prove it comes from one of our pages by carrying the
session's CSRF token: in the `X-CSRF-Token` header or the `csrf_token` form field.
The body is read here and replayed to the endpoint unchanged, so endpoints still
read their form. Requests signed in with a bearer token carry no cookie a forger
could ride on, so they need no token; nor do API requests from nobody at all (no
signed-in session, no token): there is no session to ride, and the endpoint answers
them 401 "sign in first" rather than a puzzling "form expired".
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from builder.web.i18n import translate

from .refusals import is_api, refusal, scope_locale

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
HEADER = "x-csrf-token"
FIELD = "csrf_token"


class BodyTooLarge(Exception):
    pass


class CSRFMiddleware:
    """Refuse unsafe requests without the session's token: 403 (JSON under `/api/`)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = 50 * 1024 * 1024) -> None:
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise ValueError("max_body_bytes must be a positive whole number")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["max_form_bytes"] = self.max_body_bytes  # pages parse forms up to this (see pages.common)
        if state.get("auth") == "bearer" or (state.get("actor") is None and is_api(scope)):
            await self.app(scope, receive, send)
            return
        expected = state.get("csrf_token") or ""
        request = Request(scope)
        if _matches(request.headers.get(HEADER), expected):
            await self.app(scope, receive, send)
            return
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in FORM_TYPES:
            await self._refuse(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
        except BodyTooLarge:
            text = "security.too_large" if is_api(scope) else "security.form_too_large"
            await refusal(scope, 413, "too_large", translate(text, scope_locale(scope)))(scope, receive, send)
            return
        except ClientDisconnect:
            return
        replay = _replaying(body, receive)
        if _matches(await _form_token(scope, body, self.max_body_bytes), expected):
            await self.app(scope, replay, send)
        else:
            await self._refuse(scope, receive, send)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = refusal(scope, 403, "csrf", translate("security.csrf", scope_locale(scope)))
        await response(scope, receive, send)


def _matches(given: Any, expected: str) -> bool:
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out the buffered body once, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _form_token(scope: Scope, body: bytes, max_bytes: int) -> str | None:
    """The `csrf_token` field of a buffered form body (None if it does not parse).

    The body is already within `max_bytes`, so no field or field count is refused
    here: Starlette's defaults (1 MB a field, 1000 fields) made a long note or a big
    child table look like a forged form.
    """
    request = Request({**scope, "app": None}, receive=_replaying(body, _no_more))
    try:
        form = await request.form(max_part_size=max_bytes, max_fields=max_bytes)
    except (MultiPartException, HTTPException, ValueError, UnicodeDecodeError):
        return None
    try:
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    finally:
        await form.close()


async def _no_more() -> Message:
    return {"type": "http.disconnect"}
