"""Run a blueprint report as an actor: the same rights and row filters as every record read.

The reports engine compiles and runs; this module decides, from the actor's
grants, what it may see:

- the source entity needs `report: true` or read access; a joined entity the
  role has neither on is joined as if empty (its groups show as "none");
- each entity's `where` is the row filter on the source and on every join;
- a link dimension carries the linked record's title only when the role may
  read that title field;
- a role that can read every field the report uses sees every cell; a role
  that uses a field it cannot read needs `report: true` on that entity, and then
  sees the cells with small-cell suppression (`min_cell`); otherwise it is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from engines.reports import ReportResult, ReportSpec, compile_report, run_report
from engines.reports.paths import SYSTEM_FIELDS

from .actor import Actor
from .errors import NotFound, PermissionDenied
from .policy import Grant
from .rowfilter import compile_row_filter
from .service import RecordService


def _may_see(grant: Grant) -> bool:
    return grant.report or grant.allows("read")


def _readable(grant: Grant, field: str) -> bool:
    return field in grant.readable or (field in SYSTEM_FIELDS and grant.allows("read"))


def run_report_as(
    service: RecordService,
    reports: Mapping[str, ReportSpec],
    actor: Actor,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    today: dt.date | None = None,
) -> ReportResult:
    """The result of report `name` for `actor`; NotFound, PermissionDenied or the engine's ReportError."""
    spec = reports.get(name)
    if spec is None:
        raise NotFound(f"there is no report `{name}`")
    grants = {entity: service.policy.grant(actor, entity) for entity in service.entities}
    if not _may_see(grants[spec.source]):
        raise PermissionDenied(f"role `{actor.role}` may not run reports on {spec.source} records")

    def row_filter(entity: str, table: Any) -> Any:
        grant = grants[entity]
        if not _may_see(grant):
            return sa.false()
        if not grant.where:
            return None
        tables = lambda other: table if other == entity else service.schema.table(other)  # noqa: E731
        return compile_row_filter(
            grant.where, entity, tables, lambda e, f: service.link_targets(e).get(f), actor.as_context()
        )

    def show_title(entity: str) -> bool:
        title = service.entities[entity].spec.title_field
        return title is not None and _readable(grants[entity], title)

    entities = {entity: compiled.spec for entity, compiled in service.entities.items()}
    compiled = compile_report(
        name,
        spec,
        entities,
        schema=service.schema.table,
        dialect=service.engine.dialect.name,
        today=today or dt.datetime.now(ZoneInfo(service.timezone or "UTC")).date(),
        params=params,
        row_filter=row_filter,
        private=False,
        show_title=show_title,
    )
    unreadable = {(e, f) for e, f in compiled.fields_used if _may_see(grants[e]) and not _readable(grants[e], f)}
    for entity, field in sorted(unreadable):
        if not grants[entity].report:
            raise PermissionDenied(f"role `{actor.role}` may not report on {entity}.{field}")
    if unreadable:
        compiled = replace(compiled, min_cell=spec.min_cell)
    with service.engine.connect() as connection:
        return run_report(connection, compiled)
