"""CSV and XLSX exports of what the actor may read, for roles with `export: true`, always audited (by the service).

CSV keeps the API's values (option codes, link ids) for programs; XLSX is for
people: field labels as headers and option labels, link titles, yes/no as
values, in the viewer's language. Cells that a spreadsheet would run as a
formula (=, +, -, @ first) are prefixed with a quote, so an exported name can
never execute in the reader's Excel.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from builder.exports import Sheet
from builder.records import Actor, PermissionDenied, RecordService, ValidationFailed
from builder.records.compiled import CompiledEntity

from ..presenting import display, entity_title, field_label, link_titles
from .errors import ApiError
from .params import BadParameters, parse_list_params
from .serializing import field_json
from .xlsx_response import xlsx_response

MAX_ROWS = 100_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def _exported(
    service: RecordService, actor: Actor, entity: CompiledEntity, request: Request
) -> tuple[list[dict[str, Any]], list[str]]:
    """The records the actor may export (audited by the service) and the columns it may read."""
    grant = service.policy.grant(actor, entity.name)
    if not grant.export or not grant.readable:
        raise PermissionDenied(f"role `{actor.role}` may not export {entity.name} records")
    try:
        params = parse_list_params(entity, request.query_params, actor.locale, ignore=("limit", "offset"))
        records = await run_in_threadpool(
            service.export, actor, entity.name, q=params.q, filters=params.filters, sort=params.sort, max_rows=MAX_ROWS
        )
    except (BadParameters, ValidationFailed) as exc:
        raise ApiError(400, exc.errors) from None
    return records, ["id"] + [n for n in entity.fields if n in grant.readable]


async def export_xlsx(service: RecordService, actor: Actor, entity: CompiledEntity, request: Request) -> Response:
    """The list as an XLSX workbook a person reads: labels as headers, option labels and link titles as values."""
    records, columns = await _exported(service, actor, entity, request)
    titles = await run_in_threadpool(link_titles, service, actor, entity, records)
    locale = actor.locale
    fields = [entity.fields[n] for n in columns[1:]]

    def cell(field: Any, value: Any) -> Any:
        if field.spec.type in ("integer", "decimal") and isinstance(value, (int, float, Decimal)):
            return float(value) if isinstance(value, Decimal) else value
        return display(field, value, locale, titles)

    rows = ([record.get("id")] + [cell(f, record.get(f.name)) for f in fields] for record in records)
    headers = ["ID"] + [field_label(f, locale) for f in fields]
    return await xlsx_response(Sheet(entity_title(entity, locale), headers, rows), f"{entity.name}.xlsx")


async def export_csv(service: RecordService, actor: Actor, entity: CompiledEntity, request: Request) -> Response:
    records, columns = await _exported(service, actor, entity, request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for record in records:
        writer.writerow(
            [safe_cell(record.get("id"))]
            + [safe_cell(field_json(entity.fields[n], record.get(n))) for n in columns[1:]]
        )
    filename = f"{entity.name}.csv"
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
