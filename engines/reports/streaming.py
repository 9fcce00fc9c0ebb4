"""Big results: one page of a report paged in SQL, and every row streamed from a server-side cursor.

A report grouped by something with many values (a patient, a day over years)
can have a million groups. Those never sit in memory at once:

- `run_report_page` asks the database for one page (the groups numbered in the
  report's own order) and their count, with the totals, in one statement;
- `stream_report` reads the totals and then the groups from one statement, in
  batches from a server-side cursor (`stream_results`, a named cursor on
  PostgreSQL), and yields the groups one by one, so an export holds one batch at a time.

Both apply only when the rows need no work across groups. Filling empty time
buckets needs every bucket found, and small-cell suppression needs every group
(a complement may be anywhere): such reports run whole (`run_report`) and are
then sliced or yielded. Their memory is bounded by their number of groups,
which suppression keeps small anyway (a group must hold `min_cell` records).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, NamedTuple

import sqlalchemy as sa

from .buckets import as_date, bucket_label
from .combined import MAIN, TOTALS, Part, Tags, combine, split_parts
from .compiler import CompiledReport, ReportError
from .runner import ReportResult, ResultColumn, _columns, _number, run_report

STREAM_BATCH = 1000  # groups fetched per round trip while streaming
ROW, ROWS = "__row", "__rows"  # a paged group's position in the report's order, and the groups in all
MAX_FILLED_BUCKETS = 20_000  # time buckets a filled report may span (55 years of days)
BUCKET_DAYS = {"day": 1, "week": 7, "month": 28, "quarter": 89, "year": 365}  # at least this many days each


class ResultTooLarge(ReportError):
    """A filled report whose period holds more time buckets than can be filled (`0001-01-01..` by day)."""


def check_fill_size(compiled: CompiledReport, today: dt.date) -> None:
    """Refuse a period whose empty buckets would be too many to fill: filling is done in memory.

    An open end is taken as today (the data rarely runs far past it); an open start
    is bounded by the data itself, so it is not judged here.
    """
    time = next((d for d in compiled.dimensions if d.by is not None), None)
    if compiled.fill is None or time is None or time.by is None or compiled.fill[0] is None:
        return
    first, last = compiled.fill[0], compiled.fill[1] or max(today, compiled.fill[0])
    buckets = (last - first).days // BUCKET_DAYS[time.by] + 1
    if buckets > MAX_FILLED_BUCKETS:
        raise ResultTooLarge(
            f"the period holds about {buckets:,} {time.by} buckets, more than {MAX_FILLED_BUCKETS:,}: "
            "choose a shorter period or a larger bucket"
        )


def needs_all_groups(compiled: CompiledReport) -> bool:
    """Whether the rows need work across groups (filling, suppression, subtotals, changes, pivots,
    forecasts, cohorts: `CompiledReport.runs_whole`) before any can be shown."""
    return compiled.runs_whole


def _row(compiled: CompiledReport, record: Any) -> dict[str, Any]:
    """One group as `run_report` gives it: bucket labels, titles, numbers alike on both databases."""
    row: dict[str, Any] = {}
    for dimension in compiled.dimensions:
        value = record[dimension.key]
        if dimension.by is not None and value is not None:
            value = bucket_label(as_date(value), dimension.by)  # type: ignore[arg-type]
        row[dimension.key] = value
        if dimension.title is not None:
            row[dimension.title] = record[dimension.title]
    for measure in compiled.spec.measures:
        row[measure] = _number(record[measure])
    return row


def _totals(compiled: CompiledReport, record: Any) -> dict[str, Any]:
    return {m: _number(record[m]) for m in compiled.spec.measures}


def page_statement(compiled: CompiledReport, offset: int, limit: int) -> tuple[Any, Tags]:
    """One statement for rows `offset` to `offset + limit`, the number of rows in all, and the totals.

    The groups are numbered in the report's order (`row_number() OVER`) and counted
    (`count(*) OVER ()`) in the same pass; the page keeps its rows and the first
    one, so the count comes back even when the page is past the end. The totals
    row (over the records, not the page) is a second branch of a `UNION ALL`.
    """
    groups = compiled.query.order_by(None).limit(None).subquery("groups")
    ordering = [sa.nulls_last(groups.c[k].desc() if desc else groups.c[k].asc()) for k, desc in compiled.order]
    numbered = sa.func.row_number().over(order_by=ordering or None).label(ROW)
    ranked = sa.select(*groups.c, numbered, sa.func.count().over().label(ROWS)).subquery("ranked")
    last = offset + limit if compiled.spec.limit is None else min(offset + limit, compiled.spec.limit)
    position = ranked.c[ROW]
    page = sa.select(*ranked.c).where(sa.or_(sa.and_(position > offset, position <= last), position == 1))
    parts = [Part(MAIN, page.order_by(position), limited=True)]
    if compiled.totals_query is not None:
        parts.append(Part(TOTALS, compiled.totals_query))
    names = [*(c.name for c in compiled.query.selected_columns), ROW, ROWS]
    return combine(parts, names=names, order=[(ROW, False)], dimensions=[])


def run_report_page(connection: sa.Connection, compiled: CompiledReport, offset: int, limit: int) -> ReportResult:
    """Rows `offset` to `offset + limit` of the result, and `total_rows`: one statement either way.

    Paged in SQL (`page_statement`) when nothing spans groups; otherwise the report
    runs whole (its one statement) and is sliced here.
    """
    if needs_all_groups(compiled):
        whole = run_report(connection, compiled)
        whole.total_rows = len(whole.rows)
        whole.rows = whole.rows[offset : offset + limit]
        return whole
    statement, tags = page_statement(compiled, offset, limit)
    parts = split_parts(connection.execute(statement).mappings().all(), tags)
    found = parts[MAIN]
    total = int(found[0][ROWS]) if found else 0
    if compiled.spec.limit is not None:
        total = min(total, compiled.spec.limit)
    last = offset + limit
    rows = [_row(compiled, record) for record in found if offset < record[ROW] <= last]
    totals = _totals(compiled, parts[TOTALS][0]) if compiled.totals_query is not None else None
    return ReportResult(_columns(compiled), rows, totals, 0, total_rows=total)


def stream_statement(compiled: CompiledReport) -> tuple[Any, Tags]:
    """One statement for an export: the totals row first (when the report has totals), then every group in order."""
    parts = [] if compiled.totals_query is None else [Part(TOTALS, compiled.totals_query)]
    parts.append(Part(MAIN, compiled.query, limited=compiled.spec.limit is not None))
    names = [c.name for c in compiled.query.selected_columns]
    order = list(compiled.order[: len(compiled.spec.sort)])
    keys = [d.key for d in compiled.dimensions]
    return combine(parts, names=names, order=order, dimensions=keys, sorted_part=len(parts) - 1)


class Streamed(NamedTuple):
    """A result read lazily: its columns, its totals row (None without totals) and its rows."""

    columns: list[ResultColumn]
    totals: dict[str, Any] | None
    rows: Iterator[dict[str, Any]]


def stream_report(connection: sa.Connection, compiled: CompiledReport, batch: int = STREAM_BATCH) -> Streamed:
    """The columns, the totals row and every row of the result, read lazily from a server-side cursor: one statement.

    The statement is sent here and its first row (the totals) read; the rows follow
    from the same cursor, a batch at a time. A report that needs all its groups runs
    whole first. The connection must stay open while the rows are consumed.
    """
    if needs_all_groups(compiled):
        whole = run_report(connection, compiled)
        return Streamed(whole.columns, whole.totals, iter(whole.rows))
    statement, _ = stream_statement(compiled)
    result = connection.execute(statement, execution_options={"stream_results": True, "yield_per": batch})
    records = result.mappings()
    totals = None
    if compiled.totals_query is not None:
        first = next(records, None)
        totals = None if first is None else _totals(compiled, first)
    return Streamed(_columns(compiled), totals, _rows(compiled, result, records))


def _rows(compiled: CompiledReport, result: sa.CursorResult, records: Iterator[Any]) -> Iterator[dict[str, Any]]:
    try:
        for record in records:
            yield _row(compiled, record)
    finally:
        result.close()
