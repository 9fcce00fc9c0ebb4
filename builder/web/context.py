"""What a request carries for us: who is acting, in which language, with which CSRF token.

The security layer (builder.web.security) fills `request.state`; this module is the
one place pages and the API read it, so a missing layer degrades to "signed out"
rather than to an AttributeError.
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request

from builder.records import Actor

from .i18n import LOCALES


class NotSignedIn(Exception):
    """The request has no actor: pages redirect to the login page, the API answers 401."""


def actor_of(request: Request) -> Actor | None:
    actor = getattr(request.state, "actor", None)
    return actor if isinstance(actor, Actor) else None


def locale_of(request: Request) -> str:
    """The interface language: the security layer's choice, else the blueprint's default."""
    locale = getattr(request.state, "locale", None)
    if locale in LOCALES:
        return locale
    runtime = getattr(request.app.state, "runtime", None)
    return runtime.blueprint.default_locale if runtime is not None else LOCALES[0]


def require_actor(request: Request) -> Actor:
    """The signed-in actor, speaking the request's language (service messages follow it)."""
    actor = actor_of(request)
    if actor is None:
        try:
            from .security import NotAuthenticated
        except ImportError:
            raise NotSignedIn() from None
        raise NotAuthenticated(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    locale = locale_of(request)
    address = actor.address or (request.client.host if request.client else None)
    if actor.locale != locale or actor.address != address:
        actor = dataclasses.replace(actor, locale=locale, address=address)
    return actor


def csrf_token_of(request: Request) -> str:
    return str(getattr(request.state, "csrf_token", "") or "")


def large_text_of(request: Request) -> bool:
    return bool(getattr(request.state, "large_text", False))
