"""Refusals shaped for whoever asked: JSON errors under `/api/`, a small page elsewhere.

The JSON shape is the API's usual `{"errors": [{"field", "code", "message"}]}`, so
clients handle a CSRF or sign-in refusal like any other error.
"""

from __future__ import annotations

import html
from typing import Mapping

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Scope

from builder.web.i18n import translate

from . import texts  # noqa: F401  (registers the words used below)

API_PREFIX = "/api/"


def is_api(scope: Scope) -> bool:
    path = scope.get("path", "")
    return path == API_PREFIX.rstrip("/") or path.startswith(API_PREFIX)


def scope_locale(scope: Scope) -> str:
    return scope.get("state", {}).get("locale") or "en"


def refusal(scope: Scope, status: int, code: str, message: str,
            headers: Mapping[str, str] | None = None) -> Response:
    """A refusal with `message` (already localized) as JSON or as a minimal HTML page."""
    if is_api(scope):
        return JSONResponse({"errors": [{"field": "__all__", "code": code, "message": message}]},
                            status_code=status, headers=dict(headers or {}))
    locale = scope_locale(scope)
    title = html.escape(translate("security.error_title", locale))
    body = (f'<!doctype html>\n<html lang="{html.escape(locale)}"><head><meta charset="utf-8">'
            f"<title>{title}</title></head><body><main><h1>{title}</h1><p>{html.escape(message)}</p>"
            f'<p><a href="/">{html.escape(translate("security.back", locale))}</a></p></main></body></html>\n')
    return HTMLResponse(body, status_code=status, headers=dict(headers or {}))
