"""The web application of a running blueprint: pages, API, static files, security, audit.

`create_app` only assembles; each concept lives in its own module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from builder.runtime import Runtime

from .api.docs import docs_routes
from .api.report_export import ReportExportApi
from .api.routes import RecordsApi
from .api.search import search_routes
from .api.tasks import tasks_routes
from .errors import ErrorBoundary, exception_handlers
from .pages import page_routes
from .reports import api_routes as report_api_routes
from .reports import designer_routes, preview_routes, vendor_routes
from .reports import page_routes as report_page_routes

STATIC_DIR = Path(__file__).resolve().parent / "static"
logger = logging.getLogger("builder.web")


@dataclass
class AuthLayer:
    """What signs people in: middleware that sets `request.state.actor` and its own routes.

    `outer` middleware wraps even the error boundary, so what it adds to responses
    (the security headers) is on the generic 500 page too.
    """

    middleware: list[Middleware] = field(default_factory=list)
    routes: list[BaseRoute] = field(default_factory=list)
    outer: list[Middleware] = field(default_factory=list)


def security_layer(runtime: Runtime, settings: Any = None) -> AuthLayer:
    """The real security layer (builder.web.security)."""
    from .security import SecuritySettings, auth_routes, security_middleware

    settings = settings or SecuritySettings.from_project(runtime.project)
    limit_masked_lookups(runtime, settings)
    stack = list(security_middleware(runtime, settings))
    outer = [m for m in stack if _is_headers(m.cls)]
    inner = [m for m in stack if not _is_headers(m.cls)]
    return AuthLayer(inner, list(auth_routes(runtime, settings)), outer)


def _is_headers(cls: object) -> bool:
    """The security headers go outside the error boundary, so even a 500 carries them."""
    from .security.headers import SecurityHeadersMiddleware

    return cls is SecurityHeadersMiddleware


def limit_masked_lookups(runtime: Runtime, settings: Any) -> None:
    """The record service counts masked look-ups as `[security]` says, hashing values with the app's secret."""
    from builder.records.masked_lookups import MaskedLookupGuard

    runtime.records.masked_lookups = MaskedLookupGuard(
        settings.masked_lookup_limit, settings.masked_lookup_window_minutes, settings.secret_key
    )


def outbox_routes(runtime: Runtime) -> list[BaseRoute]:
    from .outbox_pages import outbox_routes as routes

    return routes(runtime)


def import_routes(runtime: Runtime) -> list[BaseRoute]:
    from .import_pages import import_routes as routes

    return routes(runtime)


def audit_layer(runtime: Runtime) -> list[BaseRoute]:
    try:
        from .audit_pages import audit_routes
    except ImportError:
        return []
    return list(audit_routes(runtime))


def public_layer(runtime: Runtime, settings: Any) -> tuple[Any, list[BaseRoute]]:
    """Patients' own forms (docs/public-forms.md): their desk and pages, and staff's links and review queue."""
    from builder.public_forms import PublicDesk
    from builder.public_forms.submitting import Limits

    from .public_pages import PublicPages
    from .public_staff import StaffPages
    from .security import SecuritySettings

    settings = settings or SecuritySettings.from_project(runtime.project)
    desk = PublicDesk(runtime.records, runtime.blueprint, settings.secret_key, Limits.from_project(runtime.project))
    return desk, [*PublicPages(runtime, desk).routes(), *StaffPages(runtime, desk).routes()]


def create_app(runtime: Runtime, settings: Any = None, *, auth: AuthLayer | None = None) -> Starlette:
    """The Starlette app for `runtime`; `auth` replaces the security layer (tests only)."""
    layer = auth if auth is not None else security_layer(runtime, settings)
    desk, public_routes = public_layer(runtime, settings)
    api = RecordsApi(runtime.records)
    report_exports = ReportExportApi(runtime.records, runtime.blueprint.reports)
    routes: list[BaseRoute] = [
        *vendor_routes(),
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
        *layer.routes,
        *audit_layer(runtime),
        *outbox_routes(runtime),
        *import_routes(runtime),
        *public_routes,
        Mount(
            "/api",
            routes=[
                *docs_routes(runtime.records, runtime.blueprint.app.title, reports=runtime.blueprint.reports),
                *tasks_routes(runtime.records),  # before `/{entity}`: `tasks` is a reserved entity name
                *search_routes(runtime.records),  # and so is `search`
                *report_exports.routes(),
                *preview_routes(runtime),  # before `/reports/{name}`
                *report_api_routes(runtime),
                *api.routes(),
            ],
        ),
        *designer_routes(runtime),  # before `/reports/{name}`
        *report_page_routes(runtime),
        *page_routes(runtime),
    ]
    app = Starlette(
        routes=routes,
        middleware=[*layer.outer, Middleware(ErrorBoundary), *layer.middleware],
        exception_handlers=exception_handlers(),
    )
    app.state.runtime = runtime
    app.state.public_desk = desk
    return app
