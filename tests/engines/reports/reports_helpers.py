"""The clinic template's reports on real databases: a small hand-made clinic, and a run helper.

The data is small enough to compute every cell by hand (the expected cells sit
in the tests); it crosses month and week boundaries on purpose (23:59 on the
last day, 00:00 on the first). Tests may use the builder (engines may not): the
schema comes from builder.storage.tables, as the builder passes it.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from builder.loading import LoadedBlueprint, load_blueprint
from builder.storage.tables import Schema, build_schema
from engines.reports import ReportResult, ReportSpec, compile_report, run_report

ROOT = Path(__file__).resolve().parents[3]
TODAY = dt.date(2026, 4, 15)
STAMP = dt.datetime(2026, 1, 1, 8, 0)


@cache
def clinic() -> LoadedBlueprint:
    return load_blueprint(ROOT / "blueprints" / "clinic")


def T(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


STAFF = [
    {"id": 1, "name": "Dr Li", "department": "internal_medicine", "user": 101},
    {"id": 2, "name": "Dr Wang", "department": "dental", "user": 102},
]
PATIENTS = [
    {"id": 1, "name": "A", "phone": "13800000001", "channel": "walk_in", "primary_doctor": 1,
     "created_at": T("2026-01-03T10:00"), "consent_marketing": True},
    {"id": 2, "name": "B", "phone": "13800000002", "channel": "wechat", "primary_doctor": 1,
     "created_at": T("2026-01-15T12:00"), "consent_marketing": False},
    {"id": 3, "name": "C", "phone": "13800000003", "channel": "wechat", "primary_doctor": 2,
     "created_at": T("2026-01-31T23:30"), "consent_marketing": True},
    {"id": 4, "name": "D", "phone": "13800000004", "channel": "web", "primary_doctor": 2,
     "created_at": T("2026-02-01T00:10"), "consent_marketing": False},
    {"id": 5, "name": "E", "phone": "13800000005", "channel": "walk_in", "primary_doctor": 1,
     "created_at": T("2026-03-10T09:00"), "consent_marketing": True},
    {"id": 6, "name": "F", "phone": "13800000006", "channel": "walk_in", "primary_doctor": None,
     "created_at": T("2026-03-11T09:00"), "consent_marketing": True},
]  # fmt: skip
VISITS = [
    {"id": 1, "patient": 1, "doctor": 1, "visited_at": T("2026-01-05T09:00")},
    {"id": 2, "patient": 1, "doctor": 1, "visited_at": T("2026-01-20T09:00")},
    {"id": 3, "patient": 2, "doctor": 1, "visited_at": T("2026-01-21T09:00")},
    {"id": 4, "patient": 2, "doctor": 2, "visited_at": T("2026-02-02T10:00")},
    {"id": 5, "patient": 3, "doctor": 2, "visited_at": T("2026-02-03T10:00")},
    {"id": 6, "patient": 3, "doctor": 2, "visited_at": T("2026-02-28T23:59")},
    {"id": 7, "patient": 4, "doctor": 2, "visited_at": T("2026-03-01T00:00")},
]
APPOINTMENTS = [
    {"id": 1, "patient": 1, "doctor": 1, "starts_at": T("2026-03-02T09:00"), "status": "completed", "channel": "phone"},
    {"id": 2, "patient": 2, "doctor": 1, "starts_at": T("2026-03-04T09:00"), "status": "no_show", "channel": "wechat"},
    {"id": 3, "patient": 3, "doctor": 2, "starts_at": T("2026-03-08T23:59"), "status": "no_show", "channel": "web"},
    {"id": 4, "patient": 4, "doctor": 2, "starts_at": T("2026-03-09T00:00"), "status": "completed", "channel": "phone"},
    {"id": 5, "patient": 5, "doctor": 1, "starts_at": T("2026-03-10T09:00"), "status": "cancelled", "channel": "phone"},
    {
        "id": 6,
        "patient": 1,
        "doctor": 1,
        "starts_at": T("2026-03-11T09:00"),
        "status": "checked_in",
        "channel": "walk_in",
    },
    {"id": 7, "patient": 6, "doctor": 2, "starts_at": T("2026-03-12T09:00"), "status": "requested", "channel": "phone"},
    {"id": 8, "patient": 2, "doctor": 1, "starts_at": T("2026-03-01T23:00"), "status": "no_show", "channel": "phone"},
]
FOLLOW_UPS = [
    {"id": 1, "patient": 1, "assignee": 1, "due_on": dt.date(2026, 3, 5), "status": "done", "attempts": 1},
    {"id": 2, "patient": 2, "assignee": 1, "due_on": dt.date(2026, 3, 6), "status": "done", "attempts": 2},
    {"id": 3, "patient": 3, "assignee": 1, "due_on": dt.date(2026, 3, 20), "status": "open", "attempts": 0},
    {"id": 4, "patient": 4, "assignee": 2, "due_on": dt.date(2026, 3, 7), "status": "unreachable", "attempts": 3},
    {"id": 5, "patient": 5, "assignee": None, "due_on": dt.date(2026, 3, 8), "status": "open", "attempts": None},
    {"id": 6, "patient": 6, "assignee": 2, "due_on": dt.date(2026, 4, 2), "status": "done", "attempts": 1},
]
READINGS = [
    {"id": 1, "patient": 1, "taken_at": T("2026-02-01T08:00"), "systolic": 118, "diastolic": 76, "risk": "normal"},
    {"id": 2, "patient": 1, "taken_at": T("2026-02-08T08:00"), "systolic": 120, "diastolic": 78, "risk": "normal"},
    {"id": 3, "patient": 2, "taken_at": T("2026-02-09T08:00"), "systolic": 150, "diastolic": 85, "risk": "elevated"},
    {"id": 4, "patient": 3, "taken_at": T("2026-03-01T08:00"), "systolic": 185, "diastolic": 100, "risk": "high"},
    {"id": 5, "patient": 3, "taken_at": T("2026-03-02T08:00"), "systolic": 130, "diastolic": 95, "risk": "elevated"},
    {"id": 6, "patient": 4, "taken_at": T("2026-03-03T08:00"), "glucose": 5.1, "risk": None},
]
CLINIC_ROWS = {
    "staff": STAFF,
    "patient": PATIENTS,
    "visit": VISITS,
    "appointment": APPOINTMENTS,
    "follow_up": FOLLOW_UPS,
    "vital_reading": READINGS,
}


def make_schema(entities: dict[str, Any]) -> Schema:
    return build_schema(entities)


def insert(connection: sa.Connection, schema: Schema, rows_by_entity: dict[str, list[dict[str, Any]]]) -> None:
    """Insert rows as the record service stores them (system columns filled, naive local times)."""
    for entity, rows in rows_by_entity.items():
        table = schema.table(entity)
        for row in rows:
            values = {"created_at": STAMP, "updated_at": STAMP, "version": 1, **row}
            values.setdefault("updated_at", values["created_at"])
            connection.execute(table.insert().values(**values))


def clinic_database(engine: sa.Engine, rows: dict[str, list[dict[str, Any]]] | None = None) -> Schema:
    from builder.system_tables import create_system_tables

    schema = make_schema(dict(clinic().blueprint.entities))
    schema.metadata.create_all(engine)
    create_system_tables(engine)  # reports run as an actor are audited in crm_audit
    with engine.begin() as connection:
        insert(connection, schema, CLINIC_ROWS if rows is None else rows)
    return schema


def run(
    engine: sa.Engine,
    schema: Schema,
    report: str | ReportSpec,
    *,
    params: dict[str, Any] | None = None,
    private: bool = False,
    row_filter: Any = None,
    entities: dict[str, Any] | None = None,
) -> ReportResult:
    spec = clinic().blueprint.reports[report] if isinstance(report, str) else report
    compiled = compile_report(
        report if isinstance(report, str) else "adhoc",
        spec,
        entities or clinic().blueprint.entities,
        schema=schema.table,
        dialect=engine.dialect.name,
        today=TODAY,
        params=params,
        row_filter=row_filter,
        private=private,
    )
    with engine.connect() as connection:
        return run_report(connection, compiled)


def cells(result: ReportResult, *columns: str) -> list[tuple[Any, ...]]:
    """The result's rows as tuples of `columns` (all columns when none are named)."""
    names = columns or tuple(c.name for c in result.columns)
    return [tuple(row[name] for name in names) for row in result.rows]
