"""Demo data makes the reports worth looking at (issue 10, "Template"), read through the reports themselves.

`crm seed` on the clinic template and on the physio vertical, then each report run as
an admin through `run_report_as` over the whole demo period: 18 months of bookings and
visits, new patients in most months, a no-show share like a real clinic's (5-12% of
the appointments that were due), revisits (30-60% of a month's visits per doctor), and
the next two weeks booked but not yet ended.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from builder.records import SEEDING, SYSTEM, Actor, PermissionDenied, ValidationFailed
from builder.records.reporting import run_report_as
from builder.runtime import open_runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "verticals"))
physio_project = importlib.import_module("physio")
crm, init_physio_project = physio_project.crm, physio_project.init_physio_project

ADMIN = Actor(id=1, name="admin", role="admin")


def ok(*args):
    result = crm(*args)
    assert result.exit_code == 0, result.output
    return result.output


def whole_demo(runtime) -> dict[str, str]:
    today = runtime.records.clock().date()
    return {"period": f"{today - dt.timedelta(days=600)}..{today + dt.timedelta(days=15)}"}


def report(runtime, name: str):
    return run_report_as(runtime.records, runtime.blueprint.reports, ADMIN, name, whole_demo(runtime))


def every(runtime, entity: str) -> list[dict]:
    """Every record of `entity`, page by page, as the admin reads them."""
    found: list[dict] = []
    while True:
        page = runtime.records.list(ADMIN, entity, limit=500, offset=len(found), sort="id")
        found += page.items
        if len(found) >= page.total or not page.items:
            return found


def month_span(months: list[str]) -> int:
    first, last = min(months), max(months)
    return (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1


def test_clinic_demo_data_makes_the_reports_meaningful(tmp_path):
    ok("init", tmp_path / "clinic")
    ok("migrate", "-p", tmp_path / "clinic", "--yes")
    ok("seed", "-p", tmp_path / "clinic", "--patients", "300")
    runtime = open_runtime(tmp_path / "clinic")
    try:
        now = runtime.records.clock()
        new = report(runtime, "new_patients")
        months = sorted({r["month"] for r in new.rows if r["new_patients"]})
        assert len(months) >= 15, months  # registrations spread over the history, not one spike
        busiest = max(sum(r["new_patients"] for r in new.rows if r["month"] == m) for m in months)
        assert busiest < 0.2 * new.totals["new_patients"]

        visits = report(runtime, "revisit_rate")
        seen = [r for r in visits.rows if r["visits"]]
        assert month_span([r["month"] for r in seen]) >= 18  # the last 18 months
        total, patients = sum(r["visits"] for r in seen), sum(r["patients"] for r in seen)
        assert 0.3 <= (total - patients) / total <= 0.6, (total, patients)  # revisits within a month, per doctor

        shows = report(runtime, "no_show_rate")
        weeks = sorted(r["week"] for r in shows.rows if r["due"])
        assert len(weeks) >= 60, weeks  # bookings in most weeks of 18 months
        assert 0.05 <= shows.totals["no_show_rate"] <= 0.12, shows.totals

        ahead = every(runtime, "appointment")
        future = [a for a in ahead if a["starts_at"] > now]
        assert future and all(a["starts_at"] <= now + dt.timedelta(days=15) for a in future)
        assert {a["status"] for a in future} <= {"requested", "confirmed", "cancelled"}
        assert {a["status"] for a in ahead if a["starts_at"] < now - dt.timedelta(hours=1)} <= {
            "completed",
            "no_show",
            "cancelled",
        }
        assert len(future) < 0.2 * len(ahead)  # more in the past than ahead
        hours = [a["starts_at"].hour for a in ahead]
        assert all(8 <= h <= 17 for h in hours)
        sundays = sum(a["starts_at"].weekday() == 6 for a in ahead)
        assert sundays < sum(a["starts_at"].weekday() == 1 for a in ahead) / 2  # fewer on Sundays
        first_visit = {}
        for visit in every(runtime, "visit"):
            first_visit[visit["patient"]] = min(
                visit["visited_at"], first_visit.get(visit["patient"], visit["visited_at"])
            )
        registered = {p["id"]: p["created_at"] for p in every(runtime, "patient")}
        assert all(registered[p] <= at for p, at in first_visit.items())  # registered before their first visit
    finally:
        runtime.close()


def test_physio_demo_data_fills_its_attendance_report(tmp_path, database_url):
    project = init_physio_project(tmp_path / "physio", database_url)
    ok("migrate", "-p", project, "--yes")
    ok("seed", "-p", project, "--patients", "250")
    runtime = open_runtime(project)
    try:
        attendance = report(runtime, "attendance")
        seen = [r for r in attendance.rows if r["due"]]
        assert month_span([r["month"] for r in seen]) >= 18
        assert 0.05 <= attendance.totals["miss_rate"] <= 0.12, attendance.totals
        sessions = every(runtime, "session")
        now = runtime.records.clock()
        assert {s["status"] for s in sessions if s["starts_at"] > now} <= {"booked", "cancelled"}
        assert all(s["starts_at"].weekday() != 6 for s in sessions)  # the practice's own rule held
    finally:
        runtime.close()


def test_backdated_created_at_is_only_for_seeding(tmp_path):
    ok("init", tmp_path / "clinic")
    ok("migrate", "-p", tmp_path / "clinic", "--yes")
    runtime = open_runtime(tmp_path / "clinic")
    try:
        with runtime.records.batch(SEEDING) as batch:
            made = batch.create("staff", {"name": "王医生"}, made_at=dt.datetime(2025, 1, 2, 9, 0))
        assert made.record is not None and made.record["created_at"] == dt.datetime(2025, 1, 2, 9, 0)
        with runtime.records.batch(SYSTEM) as batch:  # sets things off: now
            refused = batch.create("staff", {"name": "李医生"}, made_at=dt.datetime(2025, 1, 2, 9, 0))
        assert isinstance(refused.refused, PermissionDenied) and "only seeding" in str(refused.refused)
    finally:
        runtime.close()


def small_project(tmp_path: Path, trigger_on: str) -> tuple[Path, sa.Engine]:
    """A one-entity project whose database refuses an insert into `trigger_on` once 7 rooms exist."""
    project = tmp_path / "small"
    project.mkdir()
    (project / "blueprint.yaml").write_text(
        "app: {name: rooms}\nentities:\n  room:\n    fields:\n      code: {type: text, required: true}\n",
        encoding="utf-8",
    )
    (project / "crm.toml").write_text('[database]\nurl = "sqlite:///crm.sqlite3"\n', encoding="utf-8")
    ok("migrate", "-p", project, "--yes")
    engine = sa.create_engine(f"sqlite:///{project / 'crm.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TRIGGER seventh BEFORE INSERT ON {trigger_on} WHEN (SELECT count(*) FROM room) >= 7 "
                "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
            )
        )
    return project, engine


def test_a_failing_batch_is_rolled_back_alone_and_reported(tmp_path):
    # The database fails the audit entries of the second batch (a full disk, a lost connection...).
    project, engine = small_project(tmp_path, "crm_audit")
    result = crm("seed", "-p", project, "--rows", "12", "--batch", "5")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "room rows 6-10" in result.output and "rolled back" in result.output and "the disk is full" in result.output
    assert "5 records seeded before them are kept" in result.output
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM room")).scalar() == 5  # the first batch stayed
        assert conn.execute(sa.text("SELECT count(*) FROM crm_audit WHERE entity = 'room'")).scalar() == 5
    engine.dispose()


def test_a_row_refused_once_written_is_undone_alone(tmp_path):
    # The 8th room's insert fails after every check passed (as a unique value taken meanwhile would):
    # its savepoint undoes it, the seeder tries again and skips it; the batch and the others stay.
    project, engine = small_project(tmp_path, "room")
    result = crm("seed", "-p", project, "--rows", "12", "--batch", "5")
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert "skipped 5" in result.output
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM room")).scalar() == 7
        assert conn.execute(sa.text("SELECT count(*) FROM crm_audit WHERE entity = 'room'")).scalar() == 7
    engine.dispose()


@pytest.mark.parametrize("actor", [SEEDING, SYSTEM], ids=["seeding", "system"])
def test_a_refused_row_leaves_the_rest_of_its_batch(tmp_path, actor):
    ok("init", tmp_path / "clinic")
    ok("migrate", "-p", tmp_path / "clinic", "--yes")
    runtime = open_runtime(tmp_path / "clinic")
    try:
        with runtime.records.batch(actor) as batch:
            assert batch.create("staff", {"name": "王医生"}).outcome == "created"
            refused = batch.create("staff", {"department": "dental"})  # no name: refused
            assert refused.outcome == "refused" and isinstance(refused.refused, ValidationFailed)
            assert batch.create("staff", {"name": "李医生"}).ok
        names = sorted(s["name"] for s in every(runtime, "staff"))
        assert names == ["李医生", "王医生"]
        with runtime.engine.connect() as conn:  # each made record has its audit entry, the refused one none
            assert conn.execute(sa.text("SELECT count(*) FROM crm_audit WHERE entity = 'staff'")).scalar() == 2
    finally:
        runtime.close()
