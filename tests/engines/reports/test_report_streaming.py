"""A result of many rows is streamed: read lazily from a server-side cursor, never held whole in memory.

The report groups visits by their id (one group per visit, the highest cardinality
there is). Memory is measured with tracemalloc while the rows are consumed: the
peak while streaming stays a small fraction of the peak of holding the result,
and does not grow with the number of rows. On PostgreSQL the rows come from a
named (server-side) cursor, whose buffer libpq does not hold whole either.
"""

from __future__ import annotations

import datetime as dt
import tracemalloc

import sqlalchemy as sa
from reports_helpers import STAMP, TODAY, clinic, clinic_database

from builder.records.actor import SYSTEM, Actor
from builder.records.reporting import run_report_as, stream_report_as
from builder.records.service import RecordService
from engines.reports import ReportSpec

BY_VISIT = ReportSpec.model_validate(
    {
        "source": "visit",
        "dimensions": [{"field": "id", "name": "visit"}, "doctor"],
        "measures": {"visits": {"agg": "count"}, "satisfaction": {"agg": "avg", "field": "satisfaction"}},
        "totals": True,
    }
)
REPORTS = {"by_visit": BY_VISIT, **clinic().blueprint.reports}


def many_visits(engine: sa.Engine, count: int) -> RecordService:
    schema = clinic_database(engine)
    rows = [
        {
            "id": 100 + i,
            "patient": 1 + i % 6,
            "doctor": 1 + i % 2,
            "visited_at": dt.datetime(2026, 1, 1) + dt.timedelta(minutes=i),
            "satisfaction": i % 10,
            "created_at": STAMP,
            "updated_at": STAMP,
            "version": 1,
        }
        for i in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(schema.table("visit").insert(), rows)
    loaded = clinic()
    return RecordService(
        loaded.blueprint.entities, engine, schema=schema, decision_tables=loaded.decision_tables, timezone="UTC"
    )


def streamed_peak(service: RecordService, actor=SYSTEM) -> tuple[int, int]:
    """(rows consumed, peak bytes allocated while consuming them one by one)."""
    tracemalloc.start()
    try:
        stream = stream_report_as(service, REPORTS, actor, "by_visit", today=TODAY)
        count = sum(1 for _ in stream.rows)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def held_peak(service: RecordService) -> int:
    tracemalloc.start()
    try:
        result = run_report_as(service, REPORTS, SYSTEM, "by_visit", today=TODAY)
        assert len(result.rows) > 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_keeps_memory_bounded_whatever_the_number_of_rows(engine):
    service = many_visits(engine, 40_000)
    count, peak = streamed_peak(service)
    assert count == 40_000 + 7
    held = held_peak(service)
    assert peak * 10 < held, (peak, held)  # a batch at a time, not the result


def test_the_stream_reads_lazily_from_a_server_side_cursor(engine):
    """One statement, sent when the stream is made (its first row: the totals); the rows follow from its cursor."""
    service = many_visits(engine, 3000)
    cursors: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "GROUP BY" in statement.upper():
            cursors.append(type(cursor).__name__)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        stream = stream_report_as(service, REPORTS, SYSTEM, "by_visit", today=TODAY)
        assert stream.totals == {"visits": 3007, "satisfaction": 4.5}  # the seed's 7 visits have none
        assert len(cursors) == 1
        first = next(stream.rows)
        assert first["visit"] == 1 and first["doctor__title"] == "Dr Li"
        if engine.dialect.name == "postgresql":
            assert cursors == ["ServerCursor"]  # a named cursor: PostgreSQL keeps the rest
        rest = list(stream.rows)
        assert len(cursors) == 1
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(rest) == 3006 and rest[-1]["visit"] == 3099


def test_a_suppressed_report_streams_its_whole_protected_result(engine):
    service = many_visits(engine, 200)
    analyst = Actor(id=None, name="a", role="analyst")
    stream = stream_report_as(service, REPORTS, analyst, "revisit_rate", {"period": "2026-01-01..2026-03-31"})
    rows = list(stream.rows)
    whole = run_report_as(service, REPORTS, analyst, "revisit_rate", {"period": "2026-01-01..2026-03-31"})
    assert [str(r) for r in rows] == [str(r) for r in whole.rows]
