"""Running a report for a request: as the signed-in actor, in a worker thread, with one idea of today.

Every page and API call goes through `builder/records/reporting.run_report_as`, so
the rights, row filters and small-cell suppression are the same as `crm report run`'s.
Today is computed once per request in the app's timezone and given both to the run
and to the drill-down links, so a period means the same days in both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import NoMatchFound

from builder.records import Actor, RecordService
from builder.records.reporting import run_report_as
from engines.reports import ReportResult, ReportSpec
from engines.reports.paths import SYSTEM_FIELDS

from .drill import DrillDown

EXPORT_ROUTE = "api_report_export"  # the exports' route name (their own module registers it)
EXPORT_FORMATS = ("csv", "xlsx")


def today_of(service: RecordService) -> dt.date:
    return dt.datetime.now(ZoneInfo(service.timezone or "UTC")).date()


def may_run(service: RecordService, actor: Actor, spec: ReportSpec) -> bool:
    """Whether to offer the report: `report: true` on the source, or read access to the source fields it uses.

    `run_report_as` decides for good (fields across links, filters); this keeps the
    list from offering a report the role would only be refused.
    """
    grant = service.policy.grant(actor, spec.source)
    if grant.report:
        return True
    if not grant.allows("read"):
        return False
    used = [d.field for d in spec.dimensions] + [p.field for p in spec.parameters.values()]
    used += [m.field for m in spec.measures.values() if m.field is not None]
    own = [name.split(".", 1)[0] for name in used]
    return all(name in grant.readable or name in SYSTEM_FIELDS for name in own)


async def run(
    service: RecordService,
    reports: Mapping[str, ReportSpec],
    actor: Actor,
    name: str,
    params: Mapping[str, Any],
    today: dt.date,
    *,
    offset: int | None = None,
    limit: int | None = None,
    via: str = "page",
) -> ReportResult:
    """The result for `actor`; NotFound, PermissionDenied or ReportError as `run_report_as` raises them.

    With `limit`, only that page of rows comes back (cut in SQL where the report allows),
    and `total_rows` counts them all.
    """
    return await run_in_threadpool(
        partial(run_report_as, today=today, offset=offset, limit=limit, via=via),
        service,
        reports,
        actor,
        name,
        dict(params),
    )


def drill_for(
    service: RecordService, actor: Actor, spec: ReportSpec, params: Mapping[str, Any], today: dt.date
) -> DrillDown:
    return DrillDown(service, service.policy.grant(actor, spec.source), spec, params, today)


def export_links(
    request: Request, service: RecordService, actor: Actor, name: str, spec: ReportSpec, params: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """EXPORT PLACE: (format, URL) of the report's CSV and XLSX exports, for roles with `export: true`.

    Empty until the exports' route (`/api/reports/{name}/export?format=csv|xlsx`,
    named `api_report_export`) is registered, so a page never shows a dead link.
    """
    if not service.policy.grant(actor, spec.source).export:
        return []
    try:
        base = request.app.url_path_for(EXPORT_ROUTE, name=name)
    except NoMatchFound:
        return []
    from urllib.parse import urlencode

    return [(form, f"{base}?{urlencode({**params, 'format': form})}") for form in EXPORT_FORMATS]
