"""Audit entries for report runs: which report, with which parameters, how it was seen.

A report shows aggregates, but its parameters can narrow it to one patient's
doctor or one day, so every run by a person is one entry (`action: report`,
the source entity) with the report's name and its parameters. Parameter values
go in only when they cannot carry patient data: a period (`last_12_months`,
`2026-01-01..2026-03-31`), a record id, one of a field's declared options.
Anything else keeps only its name (`"set"`), like the list audit keeps only the
names of filters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from builder.storage.database import write_transaction
from builder.system_tables import audit as audit_table
from engines.forms import EntitySpec
from engines.reports import PERIODS, ReportSpec, resolve_path

from .actor import Actor
from .auditing import audit_row

DATE_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})?\.\.(\d{4}-\d{2}-\d{2})?$")


def audited_params(spec: ReportSpec, entities: Mapping[str, EntitySpec], params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters as the audit keeps them: safe values as given, anything else as `"set"`."""
    shown: dict[str, Any] = {}
    for name, value in sorted(params.items()):
        param = spec.parameters.get(name)
        shown[name] = _safe(spec, entities, param, value) if param is not None else "set"
    return shown


def _safe(spec: ReportSpec, entities: Mapping[str, EntitySpec], param: Any, value: Any) -> Any:
    text = str(value).strip()
    if param.type == "date_range" and (text in PERIODS or DATE_RANGE.match(text)):
        return text
    if param.type == "link" and re.fullmatch(r"\d{1,18}", text):
        return int(text)
    if param.type == "select":
        field = resolve_path(entities, spec.source, param.field).spec
        booleans = ("true", "false", "1", "0", "yes", "no") if field.type == "boolean" else ()
        if text in (field.options or []) or text.lower() in booleans:
            return text
    return "set"


def write_report_audit(engine: sa.Engine, actor: Actor, spec: ReportSpec, at: Any, detail: dict[str, Any]) -> None:
    """One entry for one run (or export) of a report, in its own short transaction on the primary."""
    with write_transaction(engine) as conn:
        conn.execute(
            audit_table.insert().values(
                **audit_row(actor, "report", spec.source, None, at, detail=json.dumps(detail, ensure_ascii=False))
            )
        )
