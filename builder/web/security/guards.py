"""What endpoints call to require a signed-in actor, and how a refusal is answered.

`current_actor(request)` raises `NotAuthenticated`; register
`security_exception_handlers()` on the app (or call `not_authenticated_response`)
so pages redirect to `/login?next=...` and the API answers 401 with
`WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from builder.records import Actor
from builder.web.i18n import translate

from .refusals import is_api, refusal, scope_locale


class NotAuthenticated(Exception):
    """Nobody is signed in (or the session ended); `next` is where to return after sign-in."""

    status = 401

    def __init__(self, next_path: str = "/") -> None:
        super().__init__("not signed in")
        self.next = next_path


class Forbidden(Exception):
    """Signed in, but with a role that may not use this page."""

    status = 403


def current_actor(request: Request) -> Actor:
    """The signed-in actor of this request, or NotAuthenticated."""
    actor = request.scope.get("state", {}).get("actor")
    if not isinstance(actor, Actor):
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise NotAuthenticated(path)
    return actor


def require_role(request: Request, *roles: str) -> Actor:
    """The actor, if their role is one of `roles`; else NotAuthenticated or Forbidden."""
    actor = current_actor(request)
    if actor.role not in roles:
        raise Forbidden()
    return actor


def login_url(next_path: str) -> str:
    return "/login?" + urlencode({"next": next_path}) if next_path and next_path != "/" else "/login"


def not_authenticated_response(request: Request, exc: NotAuthenticated) -> Response:
    if is_api(request.scope):
        return refusal(
            request.scope,
            401,
            "not_authenticated",
            translate("security.not_authenticated", scope_locale(request.scope)),
            {"WWW-Authenticate": "Bearer"},
        )
    return RedirectResponse(login_url(exc.next), status_code=303)


def forbidden_response(request: Request, exc: Forbidden | None = None) -> Response:
    return refusal(request.scope, 403, "forbidden", translate("security.forbidden", scope_locale(request.scope)))


def security_exception_handlers() -> dict[Any, Callable[..., Response]]:
    """Handlers to pass to `Starlette(exception_handlers=...)`."""
    return {NotAuthenticated: not_authenticated_response, Forbidden: forbidden_response}
