"""Indexes follow the reports: a field a report buckets by time or filters by a date range is indexed.

bench/reports.py shows why: without `visit(visited_at)` and `appointment(starts_at)` a
report over the last 3 months reads every row of 18 months (EXPLAIN: SCAN / Seq Scan).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from builder.blueprint import report_time_fields
from builder.runtime import load_checked

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "verticals"))
physio_project = importlib.import_module("physio")
crm, init_physio_project = physio_project.crm, physio_project.init_physio_project

CLINIC = Path(__file__).resolve().parents[3] / "blueprints" / "clinic"


@pytest.fixture(autouse=True)
def _no_outside_project(monkeypatch, tmp_path):
    for name in ("CRM_DATABASE_URL", "CRM_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CRM_KEY_FILE", str(tmp_path / "keys" / "crm-keys.json"))


def indexed_columns(url: str, table: str) -> set[tuple[str, ...]]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        return {tuple(ix["column_names"]) for ix in sa.inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def test_the_clinic_reports_time_fields_are_the_ones_indexed():
    assert report_time_fields(load_checked(CLINIC).blueprint) == {
        "appointment": {"starts_at"},
        "follow_up": {"due_on"},
        "visit": {"visited_at"},
        "vital_reading": {"taken_at"},
    }  # new_patients buckets patient.created_at: a system column, not indexed (docs/reports.md)


def test_report_time_fields_are_indexed_on_both_databases(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    result = crm("init", tmp_path / "clinic")
    assert result.exit_code == 0, result.output
    result = crm("migrate", "-p", tmp_path / "clinic", "--yes")
    assert result.exit_code == 0, result.output
    assert ("visited_at",) in indexed_columns(database_url, "visit")
    assert ("starts_at",) in indexed_columns(database_url, "appointment")
    assert ("due_on",) in indexed_columns(database_url, "follow_up")
    assert ("satisfaction",) not in indexed_columns(database_url, "visit")  # no report filters by it


def test_the_physio_attendance_report_indexes_its_sessions(tmp_path, database_url):
    project = init_physio_project(tmp_path / "physio", database_url)
    result = crm("migrate", "-p", project, "--yes")
    assert result.exit_code == 0, result.output
    assert ("starts_at",) in indexed_columns(database_url, "session")


def test_index_true_on_a_field_and_a_new_report_add_an_index_to_a_live_database(tmp_path):
    project = tmp_path / "small"
    project.mkdir()
    blueprint = project / "blueprint.yaml"
    blueprint.write_text(
        """
app: {name: rooms}
entities:
  booking:
    fields:
      code: {type: text, required: true, index: true}
      starts_at: {type: datetime, required: true}
""",
        encoding="utf-8",
    )
    (project / "crm.toml").write_text('[database]\nurl = "sqlite:///crm.sqlite3"\n', encoding="utf-8")
    assert crm("migrate", "-p", project, "--yes").exit_code == 0
    url = f"sqlite:///{project / 'crm.sqlite3'}"
    assert indexed_columns(url, "booking") == {("code",)}
    blueprint.write_text(
        blueprint.read_text(encoding="utf-8")
        + """
reports:
  per_day:
    source: booking
    dimensions: [{field: starts_at, by: day}]
    measures: {bookings: {agg: count}}
""",
        encoding="utf-8",
    )
    result = crm("migrate", "-p", project, "--yes")
    assert result.exit_code == 0 and "add index on booking.starts_at" in result.output, result.output
    assert indexed_columns(url, "booking") == {("code",), ("starts_at",)}
