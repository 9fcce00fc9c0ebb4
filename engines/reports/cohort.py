"""Cohort reports: subjects grouped by the bucket of their first event, and the share active in each later bucket.

`kind: cohort` over visits with `subject: patient`, `anchor: visited_at`,
`by: month` gives the retention triangle: one row per (cohort month, months
since), with the cohort's size, the patients with a visit in that month, and
their share. One query: a CTE of distinct (subject, bucket) events, a CTE of
each subject's first bucket, joined and grouped. The first event is the first
the viewer may see: the viewer's row filters apply to the events and to the
subject (a subject the viewer may not see is not counted). A date range on the
anchor picks the cohorts (by their first bucket); the events counted are all
later ones, up to `periods` buckets after. Cells after today's bucket are not
rows (the triangle); empty cells read 0.

For a viewer who may not read the records, counts from 1 to `min_cell - 1`
are hidden (and the share over them), and a cohort smaller than `min_cell` is
hidden whole. No totals are shown over cohorts, so there is nothing to
subtract from and no complementary hiding is needed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .buckets import as_date, bucket_label, bucket_of, bucket_sql, buckets_between, shift_bucket
from .joins import Joins
from .report_spec import ReportSpec
from .suppression import Suppressed


@dataclass
class CohortQuery:
    """A compiled cohort report: its query and how to read it."""

    query: sa.Select
    by: str
    periods: int
    first: dt.date | None  # the first cohort bucket asked for (None: the first found)
    last: dt.date | None


COLUMNS = ("cohort", "period", "cohort_size", "active", "retention")


def _index(column: Any, by: str, dialect: str) -> Any:
    """A bucket as a whole number (months or days since an epoch), so two buckets subtract to a count."""
    if dialect == "postgresql":
        if by == "month":
            return sa.cast(sa.extract("year", column) * 12 + sa.extract("month", column), sa.Integer)
        return sa.cast(column, sa.Date) - sa.cast(sa.literal("2000-01-03"), sa.Date)
    if by == "month":
        return sa.cast(sa.func.strftime("%Y", column), sa.Integer) * 12 + sa.cast(
            sa.func.strftime("%m", column), sa.Integer
        )
    return sa.cast(sa.func.julianday(column) - sa.func.julianday("2000-01-03"), sa.Integer)


def compile_cohort(
    spec: ReportSpec,
    joins: Joins,
    conditions: list[Any],
    dialect: str,
    today: dt.date,
    ranges: dict[str, tuple[dt.date | None, dt.date | None]],
) -> CohortQuery:
    """The one query of a cohort report (its parameters' conditions are in `conditions` already)."""
    cohort = spec.cohort
    assert cohort is not None
    subject_path = joins.path(cohort.subject)
    # with row filters the subject is joined with its own: a subject the viewer may not see is NULL, not counted
    filtered = joins.row_filter is not None
    subject = joins.linked(subject_path).c.id if filtered else joins.column(cohort.subject)
    anchor = joins.column(cohort.anchor)
    bucket = bucket_sql(anchor, cohort.by, dialect)
    events = (
        sa.select(subject.label("subject"), bucket.label("bucket"))
        .select_from(joins.from_clause)
        .where(*conditions, subject.is_not(None), anchor.is_not(None))
        .distinct()
        .cte("cohort_events")
    )
    firsts = (
        sa.select(events.c.subject, sa.func.min(events.c.bucket).label("first"))
        .group_by(events.c.subject)
        .cte("cohort_firsts")
    )
    step = 1 if cohort.by == "month" else 7
    since = _index(events.c.bucket, cohort.by, dialect) - _index(firsts.c.first, cohort.by, dialect)
    since = sa.cast(since if step == 1 else since / step, sa.Integer)  # weeks: days between Mondays, over 7
    query = (
        sa.select(firsts.c.first.label("cohort"), since.label("period"), sa.func.count().label("active"))
        .select_from(firsts.join(events, events.c.subject == firsts.c.subject))
        .where(since <= cohort.periods)
        .group_by(firsts.c.first, since)
        .order_by(firsts.c.first, since)
    )
    first = last = None
    for name, (start, end) in ranges.items():
        if spec.parameters[name].field == cohort.anchor:
            first = None if start is None else bucket_of(start, cohort.by)
            last = bucket_of((end - dt.timedelta(days=1)) if end else today, cohort.by)
    return CohortQuery(
        query, cohort.by, cohort.periods, first, min(last, bucket_of(today, cohort.by)) if last else None
    )


def cohort_rows(raw: list[Any], query: CohortQuery, today: dt.date, min_cell: int | None) -> tuple[list[dict], int]:
    """The triangle's rows (every cohort in range x every period up to today) and how many cells were hidden."""
    found: dict[tuple[dt.date, int], int] = {}
    for record in raw:
        cohort = as_date(record["cohort"])
        assert cohort is not None
        found[(cohort, int(record["period"]))] = int(record["active"])
    cohorts = sorted({c for c, _ in found})
    first = query.first or (cohorts[0] if cohorts else None)
    last = query.last or (cohorts[-1] if cohorts else None)
    if first is None or last is None or last < first:
        return [], 0
    now = bucket_of(today, query.by)
    rows, hidden = [], 0
    marker = Suppressed(min_cell or 0)
    for cohort in buckets_between(first, last, query.by):
        size = found.get((cohort, 0), 0)
        for period in range(query.periods + 1):
            if shift_bucket(cohort, query.by, period) > now:
                break
            active = found.get((cohort, period), 0)
            row: dict[str, Any] = {
                "cohort": bucket_label(cohort, query.by),
                "period": period,
                "cohort_size": size,
                "active": active,
                "retention": round(active / size, 9) if size else None,
            }
            if min_cell is not None and size > 0:
                if size < min_cell:
                    for key in ("cohort_size", "active", "retention"):
                        row[key] = marker
                    hidden += 3
                elif 0 < active < min_cell:
                    row["active"] = row["retention"] = marker
                    hidden += 2
            rows.append(row)
    return rows, hidden
