"""Big results: one page of a report paged in SQL, and every row streamed from a server-side cursor.

A report grouped by something with many values (a patient, a day over years)
can have a million groups. Those never sit in memory at once:

- `run_report_page` asks the database for one page (`OFFSET`/`LIMIT` on the
  report's own order) and counts the groups in SQL;
- `iter_report_rows` reads the groups in batches from a server-side cursor
  (`stream_results`, a named cursor on PostgreSQL) and yields them one by one, so
  an export holds one batch at a time.

Both apply only when the rows need no work across groups. Filling empty time
buckets needs every bucket found, and small-cell suppression needs every group
(a complement may be anywhere): such reports run whole (`run_report`) and are
then sliced or yielded. Their memory is bounded by their number of groups,
which suppression keeps small anyway (a group must hold `min_cell` records).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from .buckets import as_date, bucket_label
from .compiler import CompiledReport, ReportError
from .runner import ReportResult, _columns, _number, run_report

STREAM_BATCH = 1000  # groups fetched per round trip while streaming
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


def report_totals(connection: sa.Connection, compiled: CompiledReport) -> dict[str, Any] | None:
    """The totals row of a report that needs no suppression (None when it has no totals)."""
    if compiled.totals_query is None:
        return None
    record = connection.execute(compiled.totals_query).mappings().one()
    return {m: _number(record[m]) for m in compiled.spec.measures}


def run_report_page(connection: sa.Connection, compiled: CompiledReport, offset: int, limit: int) -> ReportResult:
    """Rows `offset` to `offset + limit` of the result, and `total_rows`; in SQL when nothing spans groups."""
    if needs_all_groups(compiled):
        whole = run_report(connection, compiled)
        whole.total_rows = len(whole.rows)
        whole.rows = whole.rows[offset : offset + limit]
        return whole
    query = compiled.query
    cap = compiled.spec.limit
    page_limit = limit if cap is None else max(0, min(limit, cap - offset))
    counted = sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    total = int(connection.execute(counted).scalar_one())
    rows = []
    if page_limit > 0 and offset < total:
        paged = query.limit(page_limit).offset(offset)
        rows = [_row(compiled, record) for record in connection.execute(paged).mappings()]
    return ReportResult(_columns(compiled), rows, report_totals(connection, compiled), 0, total_rows=total)


def iter_report_rows(
    connection: sa.Connection, compiled: CompiledReport, batch: int = STREAM_BATCH
) -> Iterator[dict[str, Any]]:
    """Every row of the result, read lazily from a server-side cursor (whole first if it needs all groups).

    The connection must stay open while the rows are consumed.
    """
    if needs_all_groups(compiled):
        yield from run_report(connection, compiled).rows
        return
    options = {"stream_results": True, "yield_per": batch}
    result = connection.execute(compiled.query, execution_options=options)
    try:
        for record in result.mappings():
            yield _row(compiled, record)
    finally:
        result.close()
