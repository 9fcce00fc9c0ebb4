"""`[database] reports_url`: reports run on that engine (a read replica), everything else on the primary.

On SQLite the "replica" is a copy of the database file made after seeding, so a
record written afterwards to the primary is missing from reports: proof that
they read the replica. On PostgreSQL a second URL to the same database (its own
engine, its own application name) must carry every report query, and the
primary none.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from clinic_fixtures import CLINIC, _project, create_users, seed_clinic

from builder.project import Project
from builder.records import SYSTEM
from builder.records.reporting import run_report_as
from builder.runtime import open_runtime
from builder.system_tables import create_system_tables
from tests.sent_sql import sent_statements

MARCH = {"period": "2026-03-01..2026-03-31"}


def opened(tmp_path, url: str, reports_url: str | None = None):
    base = _project(tmp_path, CLINIC, url)
    config = {**base.config, "database": {"url": url, **({"reports_url": reports_url} if reports_url else {})}}
    runtime = open_runtime(Project(tmp_path, config), url)
    runtime.records.schema.metadata.create_all(runtime.engine)
    create_system_tables(runtime.engine)
    return runtime


def grouped_statements(engine: sa.Engine):
    return sent_statements(engine, keep=lambda statement: "GROUP BY" in statement.upper())


def visits(runtime) -> int:
    result = run_report_as(runtime.records, runtime.blueprint.reports, SYSTEM, "revisit_rate", MARCH)
    return sum(row["visits"] for row in result.rows)


def test_reports_read_a_sqlite_copy_when_reports_url_names_it(tmp_path):
    primary = tmp_path / "crm.sqlite3"
    runtime = opened(tmp_path, f"sqlite:///{primary}")
    data = seed_clinic(runtime, create_users(runtime))
    runtime.close()
    replica = tmp_path / "replica.sqlite3"
    with sqlite3.connect(primary) as source, sqlite3.connect(replica) as copy:
        source.backup(copy)
    runtime = opened(tmp_path, f"sqlite:///{primary}", "sqlite:///replica.sqlite3")  # relative to the project
    try:
        assert runtime.records.reports_engine is not None
        assert runtime.records.reports_engine.url.database == str(replica)
        assert visits(runtime) == 1
        runtime.records.create(
            SYSTEM,
            "visit",
            {"patient": data["patients"][1]["id"], "doctor": data["staff"][0]["id"], "visited_at": "2026-03-02T10:00"},
        )
        assert visits(runtime) == 1  # the replica has not seen it
        with runtime.engine.connect() as conn:  # ...the primary has
            assert conn.execute(sa.text("SELECT count(*) FROM visit")).scalar() == 2
    finally:
        runtime.close()


def test_reports_run_on_the_reports_engine_and_nothing_else_does(tmp_path, database_url):
    second = sa.make_url(database_url)
    if second.get_backend_name() == "postgresql":
        second = second.update_query_dict({"application_name": "crm_reports"})
    runtime = opened(tmp_path, database_url, second.render_as_string(hide_password=False))
    try:
        seed_clinic(runtime, create_users(runtime))
        replica = runtime.records.reports_engine
        assert replica is not None and replica is not runtime.engine
        with grouped_statements(runtime.engine) as on_primary, grouped_statements(replica) as on_replica:
            assert visits(runtime) == 1
            runtime.records.list(SYSTEM, "patient")  # records stay on the primary
        assert len(on_replica) == 1 and on_primary == []
        if replica.dialect.name == "postgresql":
            with replica.connect() as conn:
                assert conn.execute(sa.text("SELECT current_setting('application_name')")).scalar() == "crm_reports"
    finally:
        runtime.close()


def test_without_reports_url_reports_run_on_the_primary(tmp_path, database_url):
    runtime = opened(tmp_path, database_url)
    try:
        seed_clinic(runtime, create_users(runtime))
        assert runtime.records.reports_engine is None
        with grouped_statements(runtime.engine) as on_primary:
            assert visits(runtime) == 1
        assert len(on_primary) == 1
    finally:
        runtime.close()
