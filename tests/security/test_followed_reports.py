"""A report saved by the designer reaches running servers without a restart (builder/following.py).

One process saves (as the designer does: the whole blueprint checked, the file
written, audited); a `crm serve` started before, in another process, serves the
report from a request about a second later, and a replaced report's new
definition (never a cached result of the old one). An edit that goes beyond
reports and dashboards still waits for `crm migrate`.
"""

from __future__ import annotations

import datetime as dt
import time

from live_server import LiveServer, clinic_project

from builder.following import BlueprintFollower
from builder.records import Actor
from builder.report_saving import save_report
from builder.runtime import open_runtime

BY_DOCTOR = """by_doctor:
  source: appointment
  dimensions: [doctor]
  measures:
    {measure}: {{agg: count}}
"""
WAIT_SECONDS = 20.0


def _save(root, text: str, replace: bool) -> None:
    runtime = open_runtime(root)
    try:
        admin = Actor(id=None, name="admin", role="admin")
        existing = "by_doctor" in runtime.blueprint.reports
        save_report(runtime.engine, admin, root / "blueprint", "by_doctor", text, existing=existing,
                    replace=replace, at=dt.datetime.now())  # fmt: skip
    finally:
        runtime.close()


def _until(check, what: str, server: LiveServer):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}:\n{server.log_text()}"
        time.sleep(0.2)


def test_a_saved_report_reaches_a_running_server_in_another_process(tmp_path, database_url):
    project = clinic_project(tmp_path, database_url, patients=0)
    with LiveServer(project, tmp_path / "serve.log") as server:
        assert server.client.get("/api/reports/by_doctor").status_code == 404
        _save(project.root, BY_DOCTOR.format(measure="appointments"), replace=False)

        def served():
            answer = server.client.get("/api/reports/by_doctor")
            return answer.status_code == 200 and answer.json()

        first = _until(served, "the saved report was not served", server)
        assert [c["name"] for c in first["columns"] if c["kind"] == "measure"] == ["appointments"]
        _save(project.root, BY_DOCTOR.format(measure="booked"), replace=True)

        def replaced():
            body = served()
            return body and "booked" in [c["name"] for c in body["columns"]]

        _until(replaced, "the replaced report kept its old definition", server)
        assert "no_show_rate" in [r["name"] for r in server.client.get("/api/reports").json()["reports"]]


def test_files_changed_beyond_reports_wait_for_a_migration(tmp_path, database_url):
    project = clinic_project(tmp_path, database_url, patients=0)
    runtime = open_runtime(project.root)
    follower = BlueprintFollower(runtime, lambda: open_runtime(project.root), file_check_seconds=0)
    try:
        reports = project.root / "blueprint" / "reports" / "by_doctor.yaml"
        reports.write_text(BY_DOCTOR.format(measure="appointments"), encoding="utf-8")
        fresh = follower.current()
        assert fresh is not None and fresh is not runtime and "by_doctor" in fresh.blueprint.reports
        assert fresh.engine is runtime.engine and fresh.records is runtime.records  # the same database and service
        patient = project.root / "blueprint" / "entities" / "patient.yaml"
        text = patient.read_text(encoding="utf-8")
        patient.write_text(text.replace("    email:", "    nickname: {type: text}\n    email:", 1), encoding="utf-8")
        reports.write_text(BY_DOCTOR.format(measure="booked"), encoding="utf-8")
        after = follower.current()
        assert after is fresh  # an entity edited but not migrated: nothing of it is served, reports neither
        assert "appointments" in after.blueprint.reports["by_doctor"].measures
        patient.write_text(text, encoding="utf-8")  # the edit undone: the report change alone is served
        assert "booked" in follower.current().blueprint.reports["by_doctor"].measures
        reports.write_text("by_doctor: {source: nowhere}\n", encoding="utf-8")  # a broken file: keep serving
        assert "booked" in follower.current().blueprint.reports["by_doctor"].measures
    finally:
        follower.runtime.close()
