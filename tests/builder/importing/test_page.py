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
    assert refused.status_code == 422
    assert "`file: prescriptions.csv` is not uploaded here" in refused.text
    assert "or from a second file uploaded with the first" in refused.text
    away = VISITS_MAPPING.replace("sheet: 处方", "file: ../../etc/passwd")
    refused = admin.post(f"{action}/dry-run", data={"mapping": away, "csrf_token": token})
    assert refused.status_code == 422 and "not a path" in refused.text


def upload_pair(admin, token, main, child, entity="visit"):
    return admin.post(
        "/import/upload",
        data={"entity": entity, "csrf_token": token},
        files=[("file", main), ("child_file", child)],
    )


def test_prescriptions_from_a_second_uploaded_file_suggested_checked_imported_and_their_rejects(served):
    admin = served.login("admin")
    token = csrf(admin.get("/import").text)
    assert 'name="child_file"' in admin.get("/import").text
    visits_csv = "就诊编号,患者,就诊时间\nV1,老患者,2026-03-02 09:30\nV2,老患者,2026-03-03 10:00\n".encode("gbk")
    rx_csv = "就诊编号,药品,天数\nV1,阿莫西林,7\nV2,布洛芬,0\nV9,多余,1\n".encode("utf-16")  # Excel's Unicode text
    uploaded = upload_pair(admin, token, ("visits.csv", visits_csv, "text/csv"), ("rx.csv", rx_csv, "text/csv"))
    assert uploaded.status_code == 303
    action = uploaded.headers["location"]
    page = admin.get(action).text
    suggested = "children:\n  prescriptions:\n    file: rx.csv\n    parent: 就诊编号\n    fields:\n      drug: 药品\n"
    assert suggested in page
    mapping = page.split('name="mapping" rows="16" spellcheck="false">')[1].split("</textarea>")[0]
    import html

    mapping = html.unescape(mapping)
    dry = admin.post(f"{action}/dry-run", data={"mapping": mapping, "csrf_token": token})
    assert dry.status_code == 200
    assert '<dd data-count="created">1</dd>' in dry.text and '<dd data-count="rejected">1</dd>' in dry.text
    assert '<td data-label="Column">rx.csv row 3 天数</td>' in dry.text
    assert "Child rows from rx.csv: 3 read, 1 with their row, 1 without a row in the main file (rows 4)" in dry.text

    other = mapping.replace("file: rx.csv", "file: visits.csv")  # the main file, or any file but the second
    refused = admin.post(f"{action}/dry-run", data={"mapping": other, "csrf_token": token})
    assert refused.status_code == 422 and "or from the uploaded second file `rx.csv`" in refused.text

    started = admin.post(f"{action}/run", data={"mapping": mapping, "csrf_token": token})
    progress_url = started.headers["location"]
    deadline = time.monotonic() + 120
    page = admin.get(progress_url).text
    while 'http-equiv="refresh"' in page and time.monotonic() < deadline:
        time.sleep(0.2)
        page = admin.get(progress_url).text
    assert '<dd data-count="created">1</dd>' in page and 'data-integrity="matches"' in page
    assert f'<a href="{progress_url}/rejects/0">Download their child rows (rx.rejects.csv)</a>' in page
    rejected = admin.get(f"{progress_url}/rejects/0")
    assert rejected.status_code == 200
    lines = rejected.content.decode("utf-16").splitlines()  # in the second file's own encoding
    assert lines == ["就诊编号,药品,天数,import errors", "V2,布洛芬,0,row 3: Its row 3 of the main file was rejected."]
    assert admin.get(f"{progress_url}/rejects/1").status_code == 404
    child = served.runtime.records.schema.child("visit", "prescriptions")
    with served.runtime.engine.connect() as conn:
        assert conn.execute(sa.select(child.c.drug, child.c.days)).all() == [("阿莫西林", 7)]


def test_a_second_file_has_the_first_ones_checks_and_cap(served, monkeypatch):
    from builder.web import import_pages

    admin = served.login("admin")
    token = csrf(admin.get("/import").text)
    main = ("visits.csv", "患者\n老患者\n".encode(), "text/csv")
    wrong = upload_pair(admin, token, main, ("rx.pdf", b"%PDF", "application/pdf"))
    assert wrong.status_code == 422 and "Choose a CSV or XLSX file." in wrong.text
    twice = upload_pair(admin, token, main, ("visits.csv", b"a\n1\n", "text/csv"))
    assert twice.status_code == 422 and "The two files have the same name; rename one of them." in twice.text
    monkeypatch.setattr(import_pages, "MAX_UPLOAD_BYTES", 1024)
    big = upload_pair(admin, token, main, ("rx.csv", b"a,b\n" + b"1,2\n" * 1000, "text/csv"))
    assert big.status_code == 413 and "The file is larger than 1 KB" in big.text
