"""The /import page: admins only; upload, suggested mapping, dry run, a run polled to its
integrity report, the rejects download, the upload cap."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa
from messy_files import MAPPING, clinic_patients_csv

SECRET = "import-page-tests-secret-key-long-enough-0123456789"


@pytest.fixture
def served(clinic):
    from clinic_fixtures import ServedClinic

    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    runtime = clinic["runtime"]
    app = create_app(runtime, SecuritySettings(secret_key=SECRET))
    made = ServedClinic(runtime, app, clinic["actors"], {}, {})
    try:
        yield made
    finally:
        for client in made.clients:
            client.close()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found
    return found.group(1)


def test_only_admins_reach_the_import_page(served):
    assert served.anonymous().get("/import").status_code in (302, 303)
    nurse = served.login("nurse")
    assert nurse.get("/import").status_code == 403
    page = served.login("admin").get("/import")
    assert page.status_code == 200
    assert '<a href="/import" aria-current="page">Import</a>' in page.text  # the menu marks where you are
    assert '<option value="patient">Patient</option>' in page.text


def test_upload_dry_run_and_run_to_the_integrity_report(served, tmp_path):
    admin = served.login("admin")
    source = clinic_patients_csv(tmp_path / "patients.csv")
    token = csrf(admin.get("/import").text)
    uploaded = admin.post(
        "/import/upload",
        data={"entity": "patient", "csrf_token": token},
        files={"file": ("patients.csv", source.read_bytes(), "text/csv")},
    )
    assert uploaded.status_code == 303
    mapping_page = admin.get(uploaded.headers["location"])
    assert mapping_page.status_code == 200
    assert "姓名 · 性别 · 出生日期 · 手机 · 主治医生 · 备注" in mapping_page.text
    assert "  primary_doctor:\n    column: 主治医生\n    by: name\n" in mapping_page.text

    action = uploaded.headers["location"]
    dry = admin.post(f"{action}/dry-run", data={"mapping": MAPPING, "csrf_token": token})
    assert dry.status_code == 200
    assert '<dd data-count="created">294</dd>' in dry.text and '<dd data-count="rejected">3</dd>' in dry.text
    assert '<td data-label="Column">手机</td><td data-label="Problem">Enter a valid phone number.</td>' in dry.text
    assert served.runtime.records.list(served.actors["admin"], "patient").total == 1  # nothing written

    bad = admin.post(
        f"{action}/dry-run", data={"mapping": "entity: patient\nfields: {nme: 姓名}\n", "csrf_token": token}
    )
    assert bad.status_code == 422 and "`patient` has no field `nme`" in bad.text

    started = admin.post(f"{action}/run", data={"mapping": MAPPING, "csrf_token": token})
    assert started.status_code == 303
    progress_url = started.headers["location"]
    deadline = time.monotonic() + 120
    page = admin.get(progress_url)
    while 'http-equiv="refresh"' in page.text and time.monotonic() < deadline:
        time.sleep(0.2)
        page = admin.get(progress_url)
    assert 'http-equiv="refresh"' not in page.text
    assert '<dd data-count="created">294</dd>' in page.text
    assert 'data-integrity="matches"' in page.text
    rejects = admin.get(f"{progress_url}/rejects")
    assert rejects.status_code == 200
    assert 'filename="patients.rejects.csv"' in rejects.headers["content-disposition"]
    assert rejects.content.decode("gb18030").splitlines()[0] == "姓名,性别,出生日期,手机,主治医生,备注,import errors"
    with served.runtime.engine.connect() as conn:
        table = served.runtime.records.schema.table("patient")
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 295
    recent = admin.get("/import").text  # among the recent imports, in words
    assert '<td data-label="File">patients.csv</td><td data-label="Import as">Patient</td>' in recent
    assert '<td data-label="Status">Finished</td>' in recent


def test_an_upload_past_the_cap_is_refused(served, monkeypatch):
    from builder.web import import_pages

    monkeypatch.setattr(import_pages, "MAX_UPLOAD_BYTES", 1024)
    admin = served.login("admin")
    token = csrf(admin.get("/import").text)
    refused = admin.post(
        "/import/upload",
        data={"entity": "patient", "csrf_token": token},
        files={"file": ("big.csv", b"a,b\n" + b"1,2\n" * 100_000, "text/csv")},
    )
    assert refused.status_code == 413
    assert "The file is larger than 1 KB; split it or use crm import." in refused.text


def test_prescriptions_from_a_second_sheet_on_the_page_and_no_second_file(served, tmp_path):
    from test_children import MAPPING as VISITS_MAPPING
    from test_children import clinic_workbook

    admin = served.login("admin")
    source = clinic_workbook(tmp_path / "visits.xlsx")
    token = csrf(admin.get("/import").text)
    uploaded = admin.post(
        "/import/upload",
        data={"entity": "visit", "csrf_token": token},
        files={"file": ("visits.xlsx", source.read_bytes(), "application/octet-stream")},
    )
    assert uploaded.status_code == 303
    action = uploaded.headers["location"]
    dry = admin.post(f"{action}/dry-run", data={"mapping": VISITS_MAPPING, "csrf_token": token})
    assert dry.status_code == 200
    assert '<dd data-count="created">2</dd>' in dry.text and '<dd data-count="rejected">3</dd>' in dry.text
    assert '<td data-label="Column">处方 row 4 天数</td>' in dry.text
    assert "Child rows from 处方: 6 read, 2 with their row, 1 without a row in the main file (rows 6)" in dry.text

    elsewhere = VISITS_MAPPING.replace("sheet: 处方", "file: prescriptions.csv")
    refused = admin.post(f"{action}/dry-run", data={"mapping": elsewhere, "csrf_token": token})
    assert refused.status_code == 422 and "use `crm import` for a second file" in refused.text
    away = VISITS_MAPPING.replace("sheet: 处方", "file: ../../etc/passwd")
    refused = admin.post(f"{action}/dry-run", data={"mapping": away, "csrf_token": token})
    assert refused.status_code == 422 and "not a path" in refused.text
