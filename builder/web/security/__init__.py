"""The web app's security: sessions, sign-in, API tokens, CSRF, headers, throttling.

The pages and API mount it like this:

    settings = SecuritySettings.from_project(runtime.project)
    app = Starlette(
        routes=auth_routes(runtime, settings) + audit_routes(runtime) + other_routes,
        middleware=security_middleware(runtime, settings),
        exception_handlers=security_exception_handlers(),
    )

and call `current_actor(request)` in every endpoint that needs a signed-in user.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware

from . import texts  # noqa: F401  (registers the package's words)
from .authentication import AuthenticationMiddleware
from .body_limit import BodyLimitMiddleware
from .csrf import CSRFMiddleware
from .guards import (
    Forbidden,
    NotAuthenticated,
    current_actor,
    forbidden_response,
    not_authenticated_response,
    require_role,
    security_exception_handlers,
)
from .headers import SecurityHeadersMiddleware
from .login_routes import auth_routes
from .redirects import safe_next
from .sessions import SessionMiddleware
from .settings import SecuritySettings

__all__ = [
    "Forbidden",
    "NotAuthenticated",
    "SecuritySettings",
    "auth_routes",
    "current_actor",
    "forbidden_response",
    "not_authenticated_response",
    "require_role",
    "safe_next",
    "security_exception_handlers",
    "security_middleware",
]


def security_middleware(runtime: Any, settings: SecuritySettings) -> list[Middleware]:
    """The middleware stack, outermost first: headers, body cap, session, authentication, CSRF."""
    return [
        Middleware(SecurityHeadersMiddleware, https_only=settings.https_only),
        Middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes, max_form_bytes=settings.max_form_bytes),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            idle_minutes=settings.session_idle_minutes,
            https_only=settings.https_only,
            clock=settings.clock,
        ),
        Middleware(
            AuthenticationMiddleware,
            engine=runtime.engine,
            blueprint=runtime.blueprint,
            clock=settings.clock,
            session_max_age=settings.session_max_age,
        ),
        Middleware(CSRFMiddleware, max_body_bytes=settings.max_form_bytes),
    ]
