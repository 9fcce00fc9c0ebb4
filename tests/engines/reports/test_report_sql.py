"""The compiled SQL on both databases: time buckets at their edges, median, and `where` meaning."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from reports_helpers import T, cells, clinic_database, run

from engines.reports import TIME_BUCKETS, ReportError, ReportSpec, bucket_label
from engines.reports.buckets import bucket_of

EDGES = [
    T("2024-02-29T12:00"),  # a leap day
    T("2025-12-31T23:59:59"),
    T("2026-01-01T00:00"),
    T("2026-03-29T23:59"),  # a Sunday: still the week of Monday 23 March
    T("2026-03-30T00:00"),  # a Monday
    T("2026-06-30T23:59"),
    T("2026-07-01T00:00"),  # a new quarter
    T("2027-01-03T12:00"),  # a Sunday in ISO week 53 of 2026
]


def spec(**body) -> ReportSpec:
    return ReportSpec.model_validate(body)


@pytest.mark.parametrize("by", TIME_BUCKETS)
def test_time_buckets_at_their_edges(engine, by):
    rows = [{"id": i + 1, "starts_at": moment, "status": "completed"} for i, moment in enumerate(EDGES)]
    schema = clinic_database(engine, {"appointment": rows})
    result = run(
        engine,
        schema,
        spec(source="appointment", dimensions=[{"field": "starts_at", "by": by}], measures={"n": {"agg": "count"}}),
    )
    expected = Counter(bucket_label(bucket_of(moment.date(), by), by) for moment in EDGES)
    assert {row["starts_at"]: row["n"] for row in result.rows if row["n"]} == dict(expected)
    labels = [row["starts_at"] for row in result.rows]
    assert labels == sorted(labels) and len(labels) == len(set(labels))  # every bucket once, in order
    assert sum(row["n"] for row in result.rows) == len(EDGES)


def test_week_labels_follow_iso_8601():
    assert bucket_label(dt.date(2027, 1, 3) - dt.timedelta(days=6), "week") == "2026-W53"
    assert bucket_label(dt.date(2025, 12, 29), "week") == "2026-W01"
    assert bucket_label(dt.date(2026, 7, 1), "quarter") == "2026-Q3"


def test_a_date_field_by_week_fills_the_empty_weeks(engine):
    follow_ups = [
        {"id": 1, "due_on": dt.date(2026, 3, 1), "status": "open"},  # Sunday: week of 23 February
        {"id": 2, "due_on": dt.date(2026, 3, 16), "status": "done"},
    ]
    schema = clinic_database(engine, {"follow_up": follow_ups})
    report = spec(source="follow_up", dimensions=[{"field": "due_on", "by": "week"}], measures={"n": {"agg": "count"}})
    assert cells(run(engine, schema, report)) == [("2026-W09", 1), ("2026-W10", 0), ("2026-W11", 0), ("2026-W12", 1)]


def test_median_runs_on_postgresql_and_is_refused_on_sqlite(engine):
    visits = [
        {"id": i + 1, "visited_at": T("2026-01-05T09:00"), "wait_minutes": w} for i, w in enumerate([5, 9, 30, 12])
    ]
    schema = clinic_database(engine, {"visit": visits})
    report = spec(source="visit", measures={"median_wait": {"agg": "median", "field": "wait_minutes"}})
    if engine.dialect.name == "sqlite":
        with pytest.raises(ReportError, match="`median` needs PostgreSQL"):
            run(engine, schema, report)
    else:
        assert cells(run(engine, schema, report)) == [(10.5,)]


def test_where_treats_an_empty_value_as_the_rules_language_does(engine):
    follow_ups = [
        {"id": 1, "status": "done", "attempts": 1},
        {"id": 2, "status": "open", "attempts": 4},
        {"id": 3, "status": None, "attempts": None},
    ]
    schema = clinic_database(engine, {"follow_up": follow_ups})
    report = spec(
        source="follow_up",
        measures={
            "not_done": {"agg": "count", "where": "status != 'done'"},  # the empty status is not 'done'
            "many": {"agg": "count", "where": "attempts > 2"},  # an empty number is not more than 2
            "few": {"agg": "count", "where": "not (attempts > 2)"},
            "empty": {"agg": "count", "where": "is_empty(attempts)"},
            "listed": {"agg": "count", "where": "status in ['done', 'open']"},
            "not_listed": {"agg": "count", "where": "status not in ['done']"},
            "sum_attempts": {"agg": "sum", "field": "attempts", "where": "status == 'open'"},
            "ratio": {"expr": "many / (empty - 1)"},  # a division by zero is empty
        },
    )
    assert cells(run(engine, schema, report)) == [(2, 1, 2, 1, 2, 2, 4, None)]
