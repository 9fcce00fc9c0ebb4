"""Helpers shared by the security tests: a fake clock, a tiny app, signing in."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient

from builder.web.audit_pages import audit_routes
from builder.web.security import auth_routes, current_actor, security_exception_handlers, security_middleware

REPO = Path(__file__).resolve().parents[4]
STATIC_DIR = REPO / "builder" / "web" / "static"
PASSWORD = "correct horse battery"
ROLES = ("admin", "doctor", "nurse", "front_desk", "marketing", "analyst")


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


async def _home(request: Request) -> HTMLResponse:
    actor = current_actor(request)
    return HTMLResponse(f"<p>hello {actor.name} ({actor.role}) csrf={request.state.csrf_token}</p>")


async def _ping(request: Request) -> JSONResponse:
    actor = current_actor(request)
    return JSONResponse({"actor": actor.name, "role": actor.role, "locale": request.state.locale})


async def _echo(request: Request) -> JSONResponse:
    """Proves the CSRF check leaves the body for the endpoint."""
    actor = current_actor(request)
    if request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"actor": actor.name, "json": await request.json()})
    form = await request.form()
    return JSONResponse(
        {
            "actor": actor.name,
            "form": {k: str(v) for k, v in form.items() if isinstance(v, str)},
            "files": [v.filename for v in form.values() if not isinstance(v, str)],
        }
    )


def build_app(runtime, settings) -> Starlette:
    routes = (
        auth_routes(runtime, settings)
        + audit_routes(runtime)
        + [
            Route("/", _home),
            Route("/patients", _home),
            Route("/api/ping", _ping),
            Route("/echo", _echo, methods=["POST"]),
            Route("/api/echo", _echo, methods=["POST"]),
        ]
    )
    routes.append(Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"))
    app = Starlette(
        routes=routes,
        middleware=security_middleware(runtime, settings),
        exception_handlers=security_exception_handlers(),
    )
    app.state.runtime = runtime  # as the real app does: the page context reads it
    return app


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from_login_page(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return CSRF_INPUT.search(page.text).group(1)


def login(client: TestClient, name: str, password: str = PASSWORD, next_path: str | None = None):
    token = csrf_from_login_page(client)
    data = {"username": name, "password": password, "csrf_token": token}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/login", data=data)


def session_csrf(client: TestClient) -> str:
    """The CSRF token of the signed-in session (as a page would embed it)."""
    text = client.get("/").text
    return re.search(r"csrf=([\w-]+)", text).group(1)


def audit_rows(runtime, **where):
    from builder.system_tables import audit

    query = sa.select(audit).order_by(audit.c.id)
    for key, value in where.items():
        query = query.where(getattr(audit.c, key) == value)
    with runtime.engine.connect() as conn:
        return conn.execute(query).all()


SESSION_COOKIE = "crm_session"
