"""The audit log for administrators: `GET /audit` (page) and `GET /api/audit` (JSON).

Only the `admin` role may read it, and only read: the routes accept GET alone, so
any other method is answered 405 and no entry can be edited or deleted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from .audit_view import app_zone, present
from .methods import ExclusiveRoute
from .security.audit_log import parse_filters, search_audit
from .security.guards import (
    Forbidden,
    NotAuthenticated,
    forbidden_response,
    not_authenticated_response,
    require_role,
)
from .security.rendering import render

AUDIT_ROLES = ("admin",)


class AuditLog:
    def __init__(self, runtime: Any) -> None:
        self.engine = runtime.engine
        self.blueprint = runtime.blueprint
        self.zone = app_zone(runtime.blueprint)

    def _admin_or_refusal(self, request: Request) -> Response | None:
        try:
            require_role(request, *AUDIT_ROLES)
        except NotAuthenticated as exc:
            return not_authenticated_response(request, exc)
        except Forbidden as exc:
            return forbidden_response(request, exc)
        return None

    async def api(self, request: Request) -> Response:
        refused = self._admin_or_refusal(request)
        if refused is not None:
            return refused
        filters, errors = parse_filters(request.query_params, request.state.locale)
        if errors:
            return JSONResponse({"errors": errors}, status_code=400)
        found = await anyio.to_thread.run_sync(search_audit, self.engine, filters, self.zone)
        return JSONResponse(
            {
                "items": found.entries,
                "total": found.total,
                "page": found.page,
                "per_page": found.per_page,
                "pages": found.pages,
            }
        )

    async def page(self, request: Request) -> Response:
        refused = self._admin_or_refusal(request)
        if refused is not None:
            return refused
        filters, errors = parse_filters(request.query_params, request.state.locale)
        found = await anyio.to_thread.run_sync(search_audit, self.engine, filters, self.zone)
        locale = request.state.locale
        entries = [present(self.blueprint, entry, self.zone, locale) for entry in found.entries]
        params = filters.as_params()

        def page_link(number: int) -> str:
            return "/audit?" + urlencode({**params, "page": str(number)})

        return render(
            request,
            self.blueprint,
            "audit.html",
            400 if errors else 200,
            filters=filters,
            errors={e["field"]: e["message"] for e in errors},
            found=found,
            entries=entries,
            page_link=page_link,
            timezone=str(self.zone),
        )


def audit_routes(runtime: Any) -> list[BaseRoute]:
    """`GET /audit` and `GET /api/audit`, admin only (other methods: 405)."""
    log = AuditLog(runtime)
    return [
        ExclusiveRoute("/audit", log.page, methods=["GET"], name="audit"),
        ExclusiveRoute("/api/audit", log.api, methods=["GET"], name="api_audit"),
    ]
