"""Refusals shaped for whoever asked: JSON errors under `/api/`, a small page elsewhere.

The JSON shape is the API's usual `{"errors": [{"field", "code", "message"}]}`, so
clients handle a CSRF or sign-in refusal like any other error. A page is the app's
own error page (styled, with its header) when the app can render it, else a plain one.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Scope

from builder.web.i18n import translate

from . import texts  # noqa: F401  (registers the words used below)

API_PREFIX = "/api/"
logger = logging.getLogger("builder.web")


def is_api(scope: Scope) -> bool:
    path = scope.get("path", "")
    return path == API_PREFIX.rstrip("/") or path.startswith(API_PREFIX)


def scope_locale(scope: Scope) -> str:
    return scope.get("state", {}).get("locale") or "en"


def refusal(scope: Scope, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A refusal with `message` (already localized) as JSON or as a minimal HTML page."""
    if is_api(scope):
        return JSONResponse(
            {"errors": [{"field": "__all__", "code": code, "message": message}]},
            status_code=status,
            headers=dict(headers or {}),
        )
    page = _app_page(scope, status, message, headers)
    if page is not None:
        return page
    locale = scope_locale(scope)
    title = html.escape(translate("security.error_title", locale))
    body = (
        f'<!doctype html>\n<html lang="{html.escape(locale)}"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><main><h1>{title}</h1><p>{html.escape(message)}</p>"
        f'<p><a href="/">{html.escape(translate("security.back", locale))}</a></p></main></body></html>\n'
    )
    return HTMLResponse(body, status_code=status, headers=dict(headers or {}))


def _app_page(scope: Scope, status: int, message: str, headers: Mapping[str, str] | None) -> Response | None:
    """The app's styled error page, or None where there is no app to render it (bare security tests)."""
    app = scope.get("app")
    if getattr(getattr(app, "state", None), "runtime", None) is None:
        return None
    try:
        from builder.web.rendering import render

        return render(
            Request(scope),
            "error.html",
            {"status": status, "message": message},
            status_code=status,
            headers=dict(headers or {}),
        )
    except Exception:  # noqa: BLE001 - a refusal must always be answered
        logger.exception("the error page could not be rendered; answering with a plain one")
        return None
