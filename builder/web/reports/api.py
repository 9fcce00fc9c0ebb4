"""The reports API: `GET /api/reports` and `GET /api/reports/{name}?param=…&offset=&limit=`.

Rows are paged on the server (500 a page by default, at most 5,000), so a client
never has to hold a large result at once. Cells are the engine's values (codes,
ids, numbers); a hidden cell is the text `<5`, never its number. Column labels
are in the caller's language, and a dimension's column lists the labels of the
values on the page (`values`), so a client can show words without a second call.
Errors have the API's one shape: an unknown report 404, no right 403, an unknown
parameter or bad paging 400, a parameter value the report cannot take 422.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import FieldError, NotFound, PermissionDenied
from builder.runtime import Runtime
from engines.forms import localized
from engines.reports import ReportError, ReportResult, ReportSpec, Suppressed

from ..api.errors import ApiError, one
from ..context import require_actor
from .params import BadReportParameters, field_of_error, report_params
from .running import may_run, run, today_of
from .view import FORECAST, dimension_text, dimensions_of, report_title

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
MAX_OFFSET = 10**9


def _cell(value: Any) -> Any:
    return str(value) if isinstance(value, Suppressed) else value


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    values = {"offset": 0, "limit": DEFAULT_LIMIT}
    errors = []
    for key, high in (("offset", MAX_OFFSET), ("limit", MAX_LIMIT)):
        raw = query.get(key)
        if raw in (None, ""):
            continue
        try:
            value = int(raw)
        except ValueError:
            errors.append(FieldError(key, "invalid_integer", f"`{key}` is a whole number"))
            continue
        low = 1 if key == "limit" else 0
        if not low <= value <= high:
            errors.append(FieldError(key, "max" if value > high else "min", f"`{key}` is from {low} to {high}"))
            continue
        values[key] = value
    if errors:
        raise ApiError(400, errors)
    return values["offset"], values["limit"]


def result_json(
    runtime: Runtime, name: str, spec: ReportSpec, result: ReportResult, locale: str, offset: int, limit: int
) -> dict[str, Any]:
    """The JSON body of one page of a result (`result` already holds just that page: see running.run)."""
    page = result.rows
    dimensions = dimensions_of(runtime.records, spec, locale)
    columns = []
    for column in result.columns:
        base = column.name.removesuffix("__title") if column.kind == "title" else column.name
        fallback = dimensions[base].label if base in dimensions else base.replace("_", " ").capitalize()
        entry: dict[str, Any] = {
            "name": column.name,
            "kind": column.kind,
            "label": localized(column.label, locale, "") or fallback,
            "format": column.format,
        }
        if column.kind == "dimension":
            entry["values"] = {
                str(row.get(column.name)): dimension_text(
                    dimensions.get(column.name), row, column.name, locale, column.labels
                )
                for row in page
                if row.get(column.name) is not None
            }
        columns.append(entry)
    names = [c.name for c in result.columns]
    if any(FORECAST in row for row in page) and FORECAST not in names:
        names.append(FORECAST)
    return {
        "report": name,
        "title": report_title(name, spec, locale),
        "columns": columns,
        "rows": [{k: _cell(row.get(k)) for k in names} for row in page],
        "totals": None if result.totals is None else {k: _cell(v) for k, v in result.totals.items()},
        "suppressed": result.suppressed,
        "notes": list(result.notes),
        "total_rows": result.total_rows if result.total_rows is not None else len(result.rows),
        "offset": offset,
        "limit": limit,
    }


def api_routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records
    reports = runtime.blueprint.reports

    async def index(request: Request) -> Response:
        actor = require_actor(request)
        items = [
            {
                "name": name,
                "title": report_title(name, spec, actor.locale),
                "source": spec.source,
                "parameters": {
                    p: {"type": param.type, "default": param.default} for p, param in spec.parameters.items()
                },
                "chart": spec.chart.type if spec.chart is not None else None,
            }
            for name, spec in reports.items()
            if may_run(service, actor, spec)
        ]
        return JSONResponse({"reports": items})

    async def report(request: Request) -> Response:
        actor = require_actor(request)
        name = request.path_params["name"]
        spec = reports.get(name)
        if spec is None:
            raise one(404, "not_found", f"there is no report `{name}`")
        if not may_run(service, actor, spec):
            raise PermissionDenied(f"role `{actor.role}` may not run report `{name}`")
        offset, limit = paging(request.query_params)
        try:
            params = report_params(spec, dict(request.query_params.items()), ignore=("offset", "limit"))
        except BadReportParameters as exc:
            raise ApiError(400, exc.errors) from None
        try:
            result = await run(
                service, reports, actor, name, params, today_of(service), offset=offset, limit=limit, via="api"
            )
        except ReportError as exc:
            raise ApiError(422, [FieldError(field_of_error(str(exc)), "invalid", str(exc))]) from None
        except NotFound:
            raise one(404, "not_found", f"there is no report `{name}`") from None
        return JSONResponse(result_json(runtime, name, spec, result, actor.locale, offset, limit))

    return [
        Route("/reports", index, methods=["GET"], name="api_reports"),
        Route("/reports/{name}", report, methods=["GET"], name="api_report"),
    ]
