"""The served app follows `crm migrate`: each request runs on the blueprint the database holds.

Before a request, the follower (builder/following.py) checks the applied migration
(one indexed read) and, when it has moved, the app is rebuilt on the reopened
runtime. A read that raced a migration (it started before the commit and read
after it) is run again: its response is held back until the migration is known
not to have moved, so a newly encrypted field never goes out as ciphertext.
Writes need no second run: the database refuses a write of the old blueprint
(503, "try again", nothing saved). Streamed responses (exports) go out as they are
made; they check before they start.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from builder.following import BlueprintFollower
from builder.records import FieldError
from builder.runtime import Runtime

from .api.errors import error_response
from .errors import RETRY_AFTER_UPDATE, is_api
from .i18n import translate

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class FollowingApp:
    """An ASGI app that rebuilds the inner app whenever the follower swaps the runtime."""

    def __init__(self, follower: BlueprintFollower, build: Callable[[Runtime], ASGIApp]) -> None:
        self.follower = follower
        self._build = build
        self._apps: dict[int, ASGIApp] = {id(follower.runtime): build(follower.runtime)}
        follower.on_change(self._rebuild)

    def _rebuild(self, runtime: Runtime) -> None:
        self._apps = {id(runtime): self._build(runtime)}

    def _app_of(self, runtime: Runtime) -> ASGIApp:
        app = self._apps.get(id(runtime))
        if app is None:  # swapped by another request between the check and here
            app = self._build(runtime)
            self._apps[id(runtime)] = app
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app_of(self.follower.runtime)(scope, receive, send)
            return
        runtime = await run_in_threadpool(self.follower.current)
        if runtime is None:
            await _updating(scope, receive, send)
            return
        app = self._app_of(runtime)
        if scope["method"] not in SAFE_METHODS:
            await app(scope, receive, send)
            return
        held = _HeldResponse(send)
        await app(scope, receive, held.send)
        if held.streamed or await run_in_threadpool(self.follower.is_current):
            await held.release()
            return
        runtime = await run_in_threadpool(self.follower.current)  # the read raced a migration: once more
        if runtime is None:
            await _updating(scope, receive, send)
            return
        await self._app_of(runtime)(scope, _no_body, send)


class _HeldResponse:
    """Holds a response's messages until released; a response without a length (a stream) goes through."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._messages: list[Message] = []
        self.streamed = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = {name.lower() for name, _ in message.get("headers", [])}
            self.streamed = b"content-length" not in headers
        if self.streamed:
            for held in self._messages:
                await self._send(held)
            self._messages.clear()
            await self._send(message)
        else:
            self._messages.append(message)

    async def release(self) -> None:
        for message in self._messages:
            await self._send(message)
        self._messages.clear()


async def _no_body(scope_or_nothing: object = None) -> Message:
    """The request body of a read run again: empty (the first run consumed the real one)."""
    return {"type": "http.request", "body": b"", "more_body": False}


async def _updating(scope: Scope, receive: Receive, send: Send) -> None:
    """503 "updating" while the blueprint on disk is not the one the database was migrated to.

    Plain and in both languages: this answers before the app (and its sessions) is there.
    """
    request = Request(scope, receive)
    if is_api(request):
        response: Response = error_response(
            503, [FieldError("__all__", "updating", translate("error.503", "en"))], RETRY_AFTER_UPDATE
        )
    else:
        text = " / ".join(html.escape(translate("error.503", locale)) for locale in ("zh-CN", "en"))
        page = f'<!doctype html><meta charset="utf-8"><title>503</title><p style="font-size:1.25rem">{text}</p>'
        response = HTMLResponse(page, status_code=503, headers=RETRY_AFTER_UPDATE)
    await response(scope, receive, send)
