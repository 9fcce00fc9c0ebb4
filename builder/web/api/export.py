"""CSV export of what the actor may read, for roles with `export: true`, always audited.

Cells that a spreadsheet would run as a formula (=, +, -, @ first) are prefixed
with a quote, so an exported name can never execute in the reader's Excel.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from builder.records import Actor, PermissionDenied, RecordService, ValidationFailed
from builder.records.auditing import audit_row
from builder.records.compiled import CompiledEntity
from builder.system_tables import audit as audit_table

from .errors import ApiError
from .params import BadParameters, parse_list_params
from .serializing import field_json
from ..writes import run_write

BATCH = 500
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


def _collect(service: RecordService, actor: Actor, entity: CompiledEntity, kwargs: dict[str, Any]) -> list[dict]:
    rows: list[dict] = []
    offset = 0
    while len(rows) < MAX_ROWS:
        page = service.list(actor, entity.name, **{**kwargs, "limit": BATCH, "offset": offset})
        rows += page.items
        offset += BATCH
        if offset >= page.total or not page.items:
            break
    return rows


def _write_audit(service: RecordService, actor: Actor, entity: str, detail: dict[str, Any]) -> None:
    with service.engine.begin() as conn:
        conn.execute(audit_table.insert().values(**audit_row(
            actor, "export", entity, None, service.clock(), detail=json.dumps(detail, ensure_ascii=False))))


async def export_csv(service: RecordService, actor: Actor, entity: CompiledEntity, request: Request) -> Response:
    grant = service.policy.grant(actor, entity.name)
    if not grant.export or not grant.readable:
        raise PermissionDenied(f"role `{actor.role}` may not export {entity.name} records")
    try:
        params = parse_list_params(entity, request.query_params, actor.locale, ignore=("limit", "offset"))
        kwargs = params.as_kwargs()
        records = await run_in_threadpool(_collect, service, actor, entity, kwargs)
    except (BadParameters, ValidationFailed) as exc:
        raise ApiError(400, exc.errors) from None
    columns = ["id"] + [n for n in entity.fields if n in grant.readable]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for record in records:
        writer.writerow([safe_cell(record.get("id"))] +
                        [safe_cell(field_json(entity.fields[n], record.get(n))) for n in columns[1:]])
    detail = {"rows": len(records), "q": params.q, "filters": params.filters, "sort": params.sort}
    await run_write(service, _write_audit, service, actor, entity.name, detail)
    filename = f"{entity.name}.csv"
    return Response("\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
