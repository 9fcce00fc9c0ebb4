"""Exports through the API: reports as CSV or XLSX, lists as XLSX; labels in the viewer's language, rights, audit.

Every XLSX is opened with openpyxl, as a spreadsheet would read it.
"""

from __future__ import annotations

import csv
import io
import json

import sqlalchemy as sa
from openpyxl import load_workbook

from builder.records import SYSTEM
from builder.system_tables import audit

MARCH = {"period": "2026-03-01..2026-03-31"}


def english(clinic, role: str):
    """A client of `role` reading English (the clinic's default language is Chinese)."""
    client = clinic.api(role)
    client.headers["Accept-Language"] = "en"
    return client


def sheet_of(response) -> list[tuple]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    return [tuple(row) for row in book.active.iter_rows(values_only=True)]


def audits(clinic, action: str) -> list[dict]:
    with clinic.runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(audit).where(audit.c.action == action).order_by(audit.c.id)).all()
    return [{"role": r.role, "entity": r.entity, **json.loads(r.detail or "{}")} for r in rows]


def test_a_report_exports_as_csv_with_labels_and_is_audited_with_its_parameters(clinic):
    response = english(clinic, "admin").get("/api/reports/revisit_rate/export", params={**MARCH, "format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="revisit_rate.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows == [
        ["Month", "Doctor", "Visits", "Patients", "Revisit rate"],
        ["2026-03", "Dr. Li", "1", "1", "0.0"],
        ["Total", "", "1", "1", "0.0"],
    ]
    entry = audits(clinic, "report")[-1]
    assert entry == {
        "role": "admin",
        "entity": "visit",
        "report": "revisit_rate",
        "params": MARCH,
        "via": "api",
        "format": "csv",
    }


def test_a_report_exports_as_xlsx_in_the_viewers_language(clinic):
    api = clinic.api("admin")
    params = {"period": "all", "format": "xlsx"}
    response = api.get("/api/reports/new_patients/export", params=params, headers={"Accept-Language": "zh-CN"})
    rows = sheet_of(response)
    assert rows[0] == ("月份", "来源渠道", "新患者数")
    channels = {row[1] for row in rows[1:-1]}
    assert channels and channels <= {"到店", "转介绍", "微信", "网站", "电话", "（无）"}, channels
    assert rows[-1][0] == "合计" and rows[-1][2] == 4
    assert audits(clinic, "report")[-1]["format"] == "xlsx"


def test_percent_measures_are_numbers_formatted_as_percent(clinic):
    response = clinic.api("admin").get("/api/reports/revisit_rate/export", params={**MARCH, "format": "xlsx"})
    book = load_workbook(io.BytesIO(response.content))
    cell = book.active["E2"]
    assert cell.value == 0 and cell.number_format == "0.0%"


def test_only_roles_that_may_export_the_source_get_a_report_export(clinic):
    for role in ("analyst", "doctor", "nurse", "marketing", "front_desk"):  # no `export: true` on visit
        response = clinic.api(role).get("/api/reports/revisit_rate/export", params=MARCH)
        assert response.status_code == 403, role
        assert response.json()["errors"][0]["code"] == "forbidden"
    assert [e for e in audits(clinic, "report")] == []  # nothing ran


def test_report_export_errors_are_clear(clinic):
    api = english(clinic, "admin")
    missing = api.get("/api/reports/nope/export")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "not_found"
    bad = api.get("/api/reports/revisit_rate/export", params={"period": "soon"})
    assert bad.status_code == 400 and "unknown period `soon`" in bad.json()["errors"][0]["message"]
    unknown = api.get("/api/reports/revisit_rate/export", params={"colour": "red"})
    assert unknown.status_code == 400 and "no parameter `colour`" in unknown.json()["errors"][0]["message"]
    form = api.get("/api/reports/revisit_rate/export", params={"format": "pdf"})
    assert form.status_code == 400 and form.json()["errors"][0]["field"] == "format"
    assert clinic.anonymous().get("/api/reports/revisit_rate/export").status_code == 401


def test_report_exports_never_carry_a_formula(clinic):
    service = clinic.runtime.records
    li = clinic.data["staff"][0]
    service.update(SYSTEM, "staff", li["id"], {"name": '=HYPERLINK("http://x","Dr")'}, li["version"])
    api = english(clinic, "admin")
    text = api.get("/api/reports/revisit_rate/export", params=MARCH).text
    assert "'=HYPERLINK" in text
    rows = sheet_of(api.get("/api/reports/revisit_rate/export", params={**MARCH, "format": "xlsx"}))
    assert rows[1][1] == '\'=HYPERLINK("http://x","Dr")'


def test_a_list_exports_as_xlsx_with_labels_and_the_same_rights_and_audit_as_csv(clinic):
    response = english(clinic, "admin").get("/api/patient/export.xlsx", params={"stage": "active"})
    rows = sheet_of(response)
    header = rows[0]
    assert header[0] == "ID" and "Came through" in header and "Name" in header
    by_name = {row[header.index("Name")]: dict(zip(header, row)) for row in rows[1:]}
    assert set(by_name) == {"Zhang Wei", "Liu Yang"}
    zhang = by_name["Zhang Wei"]
    assert zhang["Gender"] == "Male" and zhang["Stage"] == "Active"
    assert zhang["Primary doctor"] == "Dr. Zhao"  # a link shows its title
    entry = audits(clinic, "export")[-1]
    assert entry["entity"] == "patient" and entry["rows"] == 2 and "name" in entry["fields"]
    for role in ("doctor", "nurse", "front_desk", "marketing", "analyst"):
        assert clinic.api(role).get("/api/patient/export.xlsx").status_code == 403, role


def test_a_list_xlsx_speaks_chinese_to_a_chinese_reader(clinic):
    response = clinic.api("admin").get("/api/patient/export.xlsx", headers={"Accept-Language": "zh-CN"})
    rows = sheet_of(response)
    header = rows[0]
    assert "来源渠道" in header
    genders = {row[header.index("性别")] for row in rows[1:]}
    assert genders == {"女", "男"}


def test_exports_are_in_the_openapi_document(clinic):
    spec = clinic.api("admin").get("/api/openapi.json").json()
    report = spec["paths"]["/api/reports/revisit_rate/export"]["get"]
    names = [p["name"] for p in report["parameters"]]
    assert names == ["format", "period", "doctor"]
    assert set(report["responses"]["200"]["content"]) == {
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    assert "/api/patient/export.xlsx" in spec["paths"]


def test_hostile_parameters_are_clear_400s_never_a_crash(clinic):
    api = english(clinic, "admin")
    for params, words in [
        ({"doctor": "99999999999999999999999"}, "record id from 1 to"),
        ({"doctor": "0"}, "record id from 1 to"),
        ({"period": "..9999-12-31"}, "not a range of ISO dates"),
        ({"period": "0001-01-01..9999-12-30"}, "choose a shorter period"),
    ]:
        response = api.get("/api/reports/revisit_rate/export", params={**params, "format": "xlsx"})
        assert response.status_code == 400, (params, response.text)
        assert words in response.json()["errors"][0]["message"], params
    response = api.get("/api/reports/no_show_rate/export", params={"period": "1900-01-01.."})  # weeks since 1900
    assert response.status_code == 200
