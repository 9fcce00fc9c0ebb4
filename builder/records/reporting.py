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

Every run is audited here (report_audit.py), whoever calls: pages, the API,
exports, the command line. Runs go to `service.reports_engine` (a read replica,
`[database] reports_url`) when one is set, and through `service.report_cache`
when the runtime gave one (report_cache.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from builder.storage.table_versions import read_versions
from engines.reports import CompiledReport, ReportResult, ReportSpec, ResultColumn, compile_report, run_report
from engines.reports.paths import SYSTEM_FIELDS
from engines.reports.streaming import check_fill_size, run_report_page, stream_report

from .actor import Actor
from .errors import NotFound, PermissionDenied
from .policy import Grant
from .report_audit import audited_params, write_report_audit
from .rowfilter import compile_row_filter
from .service import RecordService


def _may_see(grant: Grant) -> bool:
    return grant.report or grant.allows("read")


def _readable(grant: Grant, field: str) -> bool:
    return field in grant.readable or (field in SYSTEM_FIELDS and grant.allows("read"))


@dataclass
class PreparedReport:
    """A report compiled for one actor: the query, what it may read (cache scope) and whose view it is."""

    name: str
    spec: ReportSpec
    compiled: CompiledReport
    params: dict[str, Any]
    today: dt.date
    scope: frozenset[str]  # the source and every entity reachable through links: what may change the result
    identity: tuple[Any, ...]  # who sees this result: the role, and the account when a row filter applies


@dataclass
class ReportStream:
    """A report read lazily (exports): its columns, its totals and an iterator of its rows."""

    prepared: PreparedReport
    columns: list[ResultColumn]
    totals: dict[str, Any] | None
    rows: Iterator[dict[str, Any]]


def prepare_report_as(
    service: RecordService,
    reports: Mapping[str, ReportSpec],
    actor: Actor,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    today: dt.date | None = None,
    reuse: bool = True,
) -> PreparedReport:
    """Compile report `name` for `actor`; NotFound, PermissionDenied or the engine's ReportError.

    With `reuse`, a report compiled before for the same viewer, parameters and day
    is taken from `service.compiled_reports` (records/compiled_reports.py).
    """
    spec = reports.get(name)
    if spec is None:
        raise NotFound(f"there is no report `{name}`")
    day = today or dt.datetime.now(ZoneInfo(service.timezone or "UTC")).date()
    if not reuse:
        return _prepare(service, spec, actor, name, params, day)
    context = json.dumps(actor.as_context(), sort_keys=True, default=str)
    frozen = tuple(sorted((k, repr(v)) for k, v in (params or {}).items()))
    key = (name, id(spec), frozen, day, actor.role, actor.system, context)
    prepared = service.compiled_reports.get(key, spec)
    if prepared is None:
        prepared = _prepare(service, spec, actor, name, params, day)
        service.compiled_reports.put(key, spec, prepared)
    return prepared


def _prepare(
    service: RecordService,
    spec: ReportSpec,
    actor: Actor,
    name: str,
    params: Mapping[str, Any] | None,
    day: dt.date,
) -> PreparedReport:
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
        dialect=(service.reports_engine or service.engine).dialect.name,
        today=day,
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
    check_fill_size(compiled, day)
    scope = _reachable(service, spec.source)
    filtered = any(grants[entity].where for entity in scope)
    context = json.dumps(actor.as_context(), sort_keys=True, default=str) if filtered else None
    identity = (actor.role, actor.system, context)
    return PreparedReport(name, spec, compiled, dict(params or {}), day, scope, identity)


def _reachable(service: RecordService, source: str) -> frozenset[str]:
    """The source and every entity its links lead to, transitively: a join may read any of them."""
    seen = {source}
    todo = [source]
    while todo:
        for target in service.link_targets(todo.pop()).values():
            if target in service.entities and target not in seen:
                seen.add(target)
                todo.append(target)
    return frozenset(seen)


def reports_engine(service: RecordService) -> sa.Engine:
    """Where reports run: the read replica when `[database] reports_url` is set, else the primary."""
    return service.reports_engine or service.engine


def run_report_as(
    service: RecordService,
    reports: Mapping[str, ReportSpec],
    actor: Actor,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    today: dt.date | None = None,
    offset: int | None = None,
    limit: int | None = None,
    via: str = "run",
) -> ReportResult:
    """The result of report `name` for `actor`; NotFound, PermissionDenied or the engine's ReportError.

    With `limit` (and `offset`) only that page of rows comes back, with `total_rows`
    the number of rows in all; it is paged in SQL unless the report fills buckets or
    suppresses small cells (see engines/reports/streaming.py). `via` says for the
    audit how the result was seen (page, api, dashboard, cli, ...).
    """
    prepared = prepare_report_as(service, reports, actor, name, params, today=today)
    cache = service.report_cache
    paged = limit is not None
    with reports_engine(service).connect() as connection:
        key = None
        result = None
        if cache is not None:
            versions = read_versions(connection, prepared.scope)  # before the query: never older than its key
            frozen = tuple(sorted((k, str(v)) for k, v in prepared.params.items()))
            page = (offset or 0, limit) if paged else None
            definition = prepared.spec.model_dump_json()  # a report replaced under its name is another report
            key = (name, definition, frozen, prepared.today, prepared.identity, page, versions)
            result = cache.get(key)
        cached = result is not None
        if result is None:
            if paged:
                result = run_report_page(connection, prepared.compiled, max(0, offset or 0), max(0, limit or 0))
            else:
                result = run_report(connection, prepared.compiled)
            if cache is not None:
                cache.put(key, result)
    assert result is not None
    audit_run(service, actor, prepared, via, rows=len(result.rows), cached=cached)
    return result


def stream_report_as(
    service: RecordService,
    reports: Mapping[str, ReportSpec],
    actor: Actor,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    today: dt.date | None = None,
    via: str = "export",
    audit: dict[str, Any] | None = None,
) -> ReportStream:
    """Report `name` for `actor` with its rows read lazily, for exports: a million rows never sit in memory.

    Refusals and bad parameters are raised here, before anything is sent; then the
    one statement (totals first, then the groups: engines/reports/streaming.py) is
    sent and the run audited (`audit` adds to the entry, e.g. the export's format).
    The rows are read from its server-side cursor on a connection held until they
    are consumed or the iterator is closed. A report that fills buckets or hides
    small cells is run whole first (its size is bounded by its groups).
    """
    prepared = prepare_report_as(service, reports, actor, name, params, today=today)
    rows = _streamed(reports_engine(service), prepared.compiled)
    columns, totals = next(rows)  # the one statement is sent here (its first row: the totals)
    audit_run(service, actor, prepared, via, **(audit or {}))
    return ReportStream(prepared, columns, totals, rows)


def _streamed(engine: sa.Engine, compiled: CompiledReport) -> Iterator[Any]:
    """The columns and totals row (or None), then every row, on a connection held until the rows are consumed."""
    with engine.connect() as connection:
        stream = stream_report(connection, compiled)
        yield stream.columns, stream.totals
        yield from stream.rows


def audit_run(service: RecordService, actor: Actor, prepared: PreparedReport, via: str, **extra: Any) -> None:
    """One audit entry for a run: the report, its parameters (safe values only), how it was seen."""
    entities = {entity: compiled.spec for entity, compiled in service.entities.items()}
    detail = {
        "report": prepared.name,
        "params": audited_params(prepared.spec, entities, prepared.params),
        "via": via,
        **extra,
    }
    write_report_audit(service.engine, actor, prepared.spec, service.clock(), detail)


def run_draft_as(
    service: RecordService,
    spec: ReportSpec,
    actor: Actor,
    params: Mapping[str, Any] | None = None,
    *,
    name: str = "draft",
    today: dt.date | None = None,
    offset: int = 0,
    limit: int | None = None,
    via: str = "designer",
) -> ReportResult:
    """The result of an unsaved report (the designer's draft) for `actor`, with `run_report_as`'s rights.

    The same grants, row filters, small-cell suppression and audit entry as a saved
    report's run; never cached (a draft changes with every keystroke, and its name
    may be a saved report's). With `limit`, one page of rows, as `run_report_as`
    pages them (a draft grouped by patient never sits whole in memory). The caller
    has checked `spec` (engine checks) first.
    """
    prepared = prepare_report_as(service, {name: spec}, actor, name, params, today=today, reuse=False)
    with reports_engine(service).connect() as connection:
        if limit is not None:
            result = run_report_page(connection, prepared.compiled, max(0, offset), max(0, limit))
        else:
            result = run_report(connection, prepared.compiled)
    audit_run(service, actor, prepared, via, rows=len(result.rows), cached=False, draft=True)
    return result
