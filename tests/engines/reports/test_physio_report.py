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
