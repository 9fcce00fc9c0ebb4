"""The physio vertical's report: another blueprint, the same engine, hand-computed cells on both databases."""

from __future__ import annotations

from reports_helpers import ROOT, TODAY, T, cells, insert, make_schema

from builder.loading import load_blueprint
from engines.reports import compile_report, run_report


def test_attendance_by_month_and_therapist(engine):
    loaded = load_blueprint(ROOT / "tests" / "blueprints" / "physio")
    entities = dict(loaded.blueprint.entities)
    schema = make_schema(entities)
    schema.metadata.create_all(engine)
    rows = {
        "therapist": [{"id": 1, "display_name": "Ann"}],
        "session": [
            {"id": 1, "therapist": 1, "starts_at": T("2026-02-02T10:00"), "minutes": 45, "status": "attended"},
            {"id": 2, "therapist": 1, "starts_at": T("2026-02-09T10:00"), "minutes": 30, "status": "attended"},
            {"id": 3, "therapist": 1, "starts_at": T("2026-02-16T10:00"), "minutes": 45, "status": "missed"},
            {"id": 4, "therapist": 1, "starts_at": T("2026-03-02T10:00"), "minutes": 45, "status": "cancelled"},
            {"id": 5, "therapist": 1, "starts_at": T("2026-03-03T10:00"), "minutes": 45, "status": "booked"},
        ],
    }
    with engine.begin() as connection:
        insert(connection, schema, rows)
    compiled = compile_report(
        "attendance",
        loaded.blueprint.reports["attendance"],
        entities,
        schema=schema.table,
        dialect=engine.dialect.name,
        today=TODAY,
        params={"period": "2026-02-01..2026-03-31"},
        private=False,
    )
    with engine.connect() as connection:
        result = run_report(connection, compiled)
    assert cells(result, "month", "therapist", "therapist__title", "due", "missed", "miss_rate", "avg_minutes") == [
        ("2026-02", 1, "Ann", 3, 1, 0.333333333, 37.5),
        ("2026-03", 1, "Ann", 0, 0, None, None),  # cancelled and booked sessions are not due
    ]
    assert result.totals == {"due": 3, "missed": 1, "miss_rate": 0.333333333, "avg_minutes": 37.5}


def test_client_return_cohort_by_week(engine):
    """Weekly cohorts of the physio vertical, hand-computed, the same on both databases and through a row filter."""
    loaded = load_blueprint(ROOT / "tests" / "blueprints" / "physio")
    entities = dict(loaded.blueprint.entities)
    schema = make_schema(entities)
    schema.metadata.create_all(engine)
    sessions = [  # (client, day, status); Mondays: 2 March is week 10
        (1, "2026-03-02", "attended"), (2, "2026-03-04", "attended"), (3, "2026-03-08", "attended"),
        (1, "2026-03-10", "attended"), (2, "2026-03-17", "missed"), (3, "2026-03-24", "attended"),
        (4, "2026-03-11", "attended"), (4, "2026-03-12", "attended"), (1, "2026-04-01", "attended"),
    ]  # fmt: skip
    rows = {
        "therapist": [{"id": 1, "display_name": "Ann"}, {"id": 2, "display_name": "Bo"}],
        "client": [{"id": i, "full_name": f"C{i}", "therapist": 1 if i != 4 else 2} for i in range(1, 5)],
        "session": [
            {"id": i + 1, "client": c, "therapist": 1, "starts_at": T(f"{day}T10:00"), "status": status}
            for i, (c, day, status) in enumerate(sessions)
        ],
    }
    with engine.begin() as connection:
        insert(connection, schema, rows)

    def result(row_filter=None):
        compiled = compile_report(
            "client_return",
            loaded.blueprint.reports["client_return"],
            entities,
            schema=schema.table,
            dialect=engine.dialect.name,
            today=TODAY,  # 15 April 2026: week 16
            params={"period": "2026-03-02..2026-03-15"},
            private=False,
            row_filter=row_filter,
        )
        with engine.connect() as connection:
            return run_report(connection, compiled)

    assert cells(result(), "cohort", "period", "cohort_size", "active") == [
        ("2026-W10", 0, 3, 3),  # clients 1, 2, 3 (Sunday 8 March is still week 10)
        ("2026-W10", 1, 3, 1),  # client 1 on 10 March
        ("2026-W10", 2, 3, 0),  # client 2 missed on 17 March: not counted
        ("2026-W10", 3, 3, 1),  # client 3 on 24 March
        ("2026-W10", 4, 3, 1),  # client 1 on 1 April
        ("2026-W10", 5, 3, 0),
        ("2026-W10", 6, 3, 0),  # week 16 is this week; 6 periods asked
        ("2026-W11", 0, 1, 1),  # client 4, twice in one week: counted once
        ("2026-W11", 1, 1, 0),
        ("2026-W11", 2, 1, 0),
        ("2026-W11", 3, 1, 0),
        ("2026-W11", 4, 1, 0),
        ("2026-W11", 5, 1, 0),
    ]
    ann_only = result(lambda entity, table: table.c.therapist == 1 if entity == "client" else None)
    assert cells(ann_only, "cohort", "period", "cohort_size", "active")[0] == ("2026-W10", 0, 3, 3)
    assert ("2026-W11", 0, 0, 0) in cells(ann_only, "cohort", "period", "cohort_size", "active")  # client 4 is Bo's
