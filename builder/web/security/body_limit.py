"""A cap on request bodies, enforced while they stream in.

Reading a body whole and then measuring it lets one client make the server hold
100 MB per request. Here a declared `Content-Length` over the cap is refused before a
byte is read, and a chunked body is counted as it arrives: the read that passes the
cap raises BodyTooLarge, which becomes a 413 (JSON under `/api/`, a page elsewhere)
while the rest of the body is never read. Forms have their own cap (`max_form_bytes`),
JSON and every other body share `max_body_bytes`. A public form (`/f/...`, posted by
anyone without signing in, docs/public-forms.md) takes at most PUBLIC_FORM_BYTES.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from builder.web.i18n import translate

from .refusals import refusal, scope_locale

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
PUBLIC_PREFIX, PUBLIC_FORM_BYTES = "/f/", 100_000  # a patient's answers: no files, short texts


class BodyTooLarge(HTTPException):
    """The body passed its cap; an HTTPException so endpoints' handlers render it as a 413."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit:,} bytes")
        self.limit = limit


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


class BodyLimitMiddleware:
    """Answer 413 as soon as a request body passes its cap (declared or counted)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = 1_000_000, max_form_bytes: int = 1_000_000) -> None:
        for name, value in (("max_body_bytes", max_body_bytes), ("max_form_bytes", max_form_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number")
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_form_bytes = max_form_bytes

    def cap(self, scope: Scope) -> int:
        content_type = _header(scope, b"content-type").split(";")[0].strip().lower()
        cap = self.max_form_bytes if content_type in FORM_TYPES else self.max_body_bytes
        return min(cap, PUBLIC_FORM_BYTES) if str(scope.get("path", "")).startswith(PUBLIC_PREFIX) else cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.cap(scope)
        declared = _header(scope, b"content-length").strip()
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:  # too late for a 413; the connection ends here
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = translate("security.too_large", scope_locale(scope))
        await refusal(scope, 413, "too_large", message, {"Connection": "close"})(scope, receive, send)
