"""Server-side HTML: one Jinja2 environment, and the context every page gets.

Every template receives the same base variables (locale, app_title, actor,
csrf_token, large_text) plus `t` for interface text and `L` for blueprint text,
so templates never reach into the request themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import HTMLResponse

from engines.forms import localized

from .context import actor_of, csrf_token_of, large_text_of, locale_of
from .i18n import translate

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def make_environment() -> jinja2.Environment:
    """Autoescaping everywhere: every value on a page may come from a patient's record."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.ChainableUndefined,
    )
    return env


ENVIRONMENT = make_environment()


def base_context(request: Request) -> dict[str, Any]:
    """The variables base.html relies on, for any request (signed in or not)."""
    locale = locale_of(request)
    runtime = getattr(request.app.state, "runtime", None)
    title = localized(runtime.blueprint.app.title, locale, runtime.blueprint.app.name) if runtime else "CRM"
    return {
        "request": request,
        "locale": locale,
        "app_title": title,
        "actor": actor_of(request),
        "csrf_token": csrf_token_of(request),
        "large_text": large_text_of(request),
        "t": lambda key, **params: translate(key, locale, **params),
        "L": lambda text, fallback="": localized(text, locale, fallback),
        "static": lambda path: str(request.url_for("static", path=path)),
        "locales": runtime.blueprint.app.locales if runtime else ["zh-CN", "en"],
        "path": request.url.path,
        "inbox_unread": lambda: _unread(runtime, actor_of(request)),
        "tasks_count": lambda: _open_tasks(runtime, actor_of(request)),
        "reviews": lambda: _reviews(request),
        "menu": lambda: _menu(request, runtime, locale),
    }


def _menu(request: Request, runtime: Any, locale: str) -> list[Any]:
    """The main menu for the signed-in user (builder/web/menu.py); empty when nobody is signed in."""
    from .menu import MenuContext, build_menu

    actor = actor_of(request)
    if getattr(runtime, "records", None) is None or actor is None:  # no record service: a bare page (tests)
        return []
    ctx = MenuContext(runtime, actor, request.url.path, locale, _reviews(request), _open_tasks(runtime, actor))
    return build_menu(ctx, lambda: _unread(runtime, actor))


def _open_tasks(runtime: Any, actor: Any) -> int | None:
    """The header's "My tasks" badge; None when the role can have no tasks (no link then)."""
    from builder.records.tasks import task_sources

    records = getattr(runtime, "records", None)
    if records is None or actor is None or not task_sources(records, actor):
        return None
    try:
        return records.count_tasks(actor)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        return None


def _reviews(request: Request) -> bool:
    """Whether the header links the review queue of public forms (docs/public-forms.md) for this user."""
    desk = getattr(request.app.state, "public_desk", None)
    actor = actor_of(request)
    return bool(desk is not None and actor is not None and desk.review.forms_for(actor.role))


def _unread(runtime: Any, actor: Any) -> int:
    """The header badge: the signed-in user's unread inbox messages (0 when there is no inbox yet)."""
    from builder.delivery.views import unread_count

    if runtime is None or actor is None or actor.id is None:
        return 0
    try:
        return unread_count(runtime.engine, actor.id)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        return 0


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render `template` with the base context plus `context`."""
    values = base_context(request)
    values.update(context or {})
    html = ENVIRONMENT.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=headers)
