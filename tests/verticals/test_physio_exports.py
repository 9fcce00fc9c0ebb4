"""The second vertical's report and list exports: the same rights, labels, audit and cache as the clinic's."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from physio import crm, init_physio_project, serve_physio

from builder.records import SYSTEM
from builder.system_tables import audit

PERIOD = {"period": "all"}


@pytest.fixture
def served(tmp_path, database_url):
    directory = init_physio_project(tmp_path / "physio", database_url)
    assert crm("migrate", "-p", directory, "--yes").exit_code == 0
    seeded = crm("seed", "-p", directory, "--rows", "12", "--rows", "therapist=3")
    assert seeded.exit_code == 0, seeded.output
    app = serve_physio(directory)
    try:
        yield app
    finally:
        app.close()


def workbook(response) -> list[tuple]:
    assert response.status_code == 200, response.text
    return [tuple(r) for r in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)]


def test_the_attendance_report_exports_with_labels_rights_and_audit(served):
    admin = served.api("admin")
    admin.headers["Accept-Language"] = "en"
    rows = workbook(admin.get("/api/reports/attendance/export", params={**PERIOD, "format": "xlsx"}))
    assert rows[0][2:] == ("Due", "Missed", "Miss rate", "Average minutes")
    assert rows[-1][0] == "Total"
    with served.runtime.engine.connect() as conn:
        due = conn.execute(sa.text("SELECT count(*) FROM session WHERE status IN ('attended', 'missed')")).scalar()
    assert rows[-1][2] == due
    by_room = admin.get("/api/reports/attendance/export", params={**PERIOD, "room": "gym"})
    assert by_room.status_code == 200
    for account in ("reception", "ther_a"):
        assert served.api(account).get("/api/reports/attendance/export", params=PERIOD).status_code == 403
    with served.runtime.engine.connect() as conn:
        details = conn.execute(sa.select(audit.c.detail).where(audit.c.action == "report")).scalars()
        entries = [json.loads(d) for d in details]
    assert [(e["params"], e.get("format")) for e in entries] == [(PERIOD, "xlsx"), ({**PERIOD, "room": "gym"}, "csv")]


def test_a_session_list_exports_as_xlsx_with_state_labels(served):
    admin = served.api("admin")
    admin.headers["Accept-Language"] = "zh-CN"
    rows = workbook(admin.get("/api/session/export.xlsx"))
    header = rows[0]
    assert "状态" in header and "治疗室" in header
    states = {row[header.index("状态")] for row in rows[1:]}
    assert states
    assert not states & {"booked", "attended", "missed", "cancelled"}  # labels, never codes


def test_a_new_session_invalidates_the_cached_attendance(served):
    admin = served.api("admin")
    first = admin.get("/api/reports/attendance/export", params=PERIOD).text
    assert admin.get("/api/reports/attendance/export", params=PERIOD).text == first
    cache = served.runtime.records.report_cache
    assert cache is not None and cache.hits == 0  # exports stream: they never fill the cache
    service = served.runtime.records
    from builder.records.reporting import run_report_as

    reports = served.runtime.blueprint.reports
    before = run_report_as(service, reports, SYSTEM, "attendance", PERIOD)
    assert run_report_as(service, reports, SYSTEM, "attendance", PERIOD).totals == before.totals
    assert cache.hits == 1
    session = service.list(SYSTEM, "session", limit=1).items[0]
    minutes = (session.get("minutes") or 30) + 1
    service.update(SYSTEM, "session", session["id"], {"minutes": minutes}, session["version"])
    run_report_as(service, reports, SYSTEM, "attendance", PERIOD)
    assert cache.hits == 1 and cache.misses == 2
