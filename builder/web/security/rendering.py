"""Render this package's pages (login, audit log) the way every page of the app is rendered.

The app's own `builder.web.rendering` gives the context `base.html` relies on
(`static`, `path`, `t`, `L`...); this module adds the blueprint's title and keeps a
plain fallback so the security pages still render if that module is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import NoMatchFound

from builder.web.i18n import translate
from engines.forms.models import localized

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

base_context: Callable[[Request], dict[str, Any]] | None
try:
    from builder.web.rendering import ENVIRONMENT, base_context
except ImportError:  # the pages package is optional for this one
    ENVIRONMENT = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=ChainableUndefined,
    )
    base_context = None


def _static_url(request: Request, path: str) -> str:
    try:
        return str(request.url_for("static", path=path))
    except NoMatchFound:
        return "/static/" + path


def _fallback_context(request: Request, locale: str) -> dict[str, Any]:
    state = request.scope.get("state", {})
    return {
        "request": request,
        "locale": locale,
        "actor": state.get("actor"),
        "csrf_token": state.get("csrf_token", ""),
        "large_text": bool(state.get("large_text")),
        "t": lambda key, **params: translate(key, locale, **params),
        "L": lambda text, fallback="": localized(text, locale, fallback),
        "static": lambda path: _static_url(request, path),
        "path": request.url.path,
    }


def page_context(request: Request, blueprint: Any) -> dict[str, Any]:
    """The variables every page shares, with the title and languages of `blueprint`."""
    locale = request.scope.get("state", {}).get("locale") or blueprint.default_locale
    values = base_context(request) if base_context is not None else _fallback_context(request, locale)
    values.update(app_title=localized(blueprint.app.title, values.get("locale", locale), blueprint.app.name))
    return values


def render(request: Request, blueprint: Any, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    values = page_context(request, blueprint)
    values.update(context)
    return HTMLResponse(ENVIRONMENT.get_template(template).render(values), status_code=status_code)
