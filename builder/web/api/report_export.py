"""`GET /api/reports/{name}/export?format=csv|xlsx&<parameters>`: a report's cells as a spreadsheet.

Who may export: a role with `export: true` on the report's source entity (the
same right that exports its list), on top of the right to run the report at all
(`report: true` or read access, see records/reporting.py); small cells stay
hidden for a role that may only see aggregates. The run is audited with its
parameters and the format (records/report_audit.py). Rows are streamed: a
report of a million groups is read from a server-side cursor and written as it
comes, with labels in the viewer's language (exports/report_sheet.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from builder.exports import report_sheet
from builder.records import PermissionDenied, RecordService
from builder.records.reporting import stream_report_as
from engines.reports import ReportError, ReportSpec

from ..context import require_actor
from .errors import one
from .xlsx_response import csv_response, xlsx_response

FORMATS = ("csv", "xlsx")
MAX_PARAM_LENGTH = 200


class ReportExportApi:
    """The export endpoint of every report of the blueprint."""

    def __init__(self, service: RecordService, reports: Mapping[str, ReportSpec]):
        self.service = service
        self.reports = reports

    async def export(self, request: Request) -> Response:
        actor = require_actor(request)
        name = request.path_params["name"]
        spec = self.reports.get(name)
        if spec is None:
            raise one(404, "not_found", f"there is no report `{name}`")
        form = request.query_params.get("format", "csv")
        if form not in FORMATS:
            raise one(400, "invalid", "`format` is csv or xlsx", field="format")
        params: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            if key == "format":
                continue
            if key in params or len(value) > MAX_PARAM_LENGTH:
                problem = f"parameter `{key}` is given once, in at most {MAX_PARAM_LENGTH} characters"
                raise one(400, "invalid", problem, key)
            params[key] = value
        if not self.service.policy.grant(actor, spec.source).export:
            raise PermissionDenied(f"role `{actor.role}` may not export reports on {spec.source} records")
        try:
            stream = await run_in_threadpool(
                stream_report_as, self.service, self.reports, actor, name, params, via="api", audit={"format": form}
            )
        except ReportError as exc:
            raise one(400, "invalid_parameter", str(exc)) from None
        sheet = report_sheet(self.service, name, spec, stream.columns, stream.rows, stream.totals, actor.locale)
        filename = f"{name}.{form}"
        if form == "csv":
            return csv_response(sheet, filename)
        return await xlsx_response(sheet, filename)

    def routes(self) -> list[BaseRoute]:
        return [Route("/reports/{name}/export", self.export, methods=["GET"], name="api_report_export")]
