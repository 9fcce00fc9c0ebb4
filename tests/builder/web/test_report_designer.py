"""The report designer on the real app, SQLite and PostgreSQL: drafts checked like `crm validate`, run as the viewer.

The clinic's four March appointments, two per doctor: the analyst (`report: true`
only) sees them counted with small cells hidden, the admin sees the counts; hostile
drafts get located problems (never a 500); the front desk designs only over what it
reads; the field picker crosses up to three links the role may report on; only the
admin saves, and a saved report passes `crm validate` and appears once the runtime
is opened again (running servers: tests/security/test_followed_reports.py).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest
from clinic_fixtures import clinic_copy, csrf_of

from builder.records import Actor
from builder.report_saving import SaveRefused, save_report
from builder.runtime import load_checked, open_runtime

BY_DOCTOR = {"source": "appointment", "dimensions": ["doctor"], "measures": {"appointments": {"agg": "count"}}}
FORM = {
    "name": "appointments_by_doctor",
    "title_en": "Appointments by doctor",
    "title_zh-CN": "各医生预约数",
    "source": "appointment",
    "d0_field": "doctor",
    "m0_name": "appointments",
    "m0_agg": "count",
    "m0_format": "integer",
    "totals": "1",
    "chart_type": "bar",
    "chart_x": "doctor",
    "chart_y": "appointments",
}


def _problems(page: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for control, text in re.findall(r'data-problem="([^"]+)">([^<]*)<', page):
        found.setdefault(control, []).append(html.unescape(text))
    return found


def _cells(page: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def _options(page: str, name: str) -> dict[str, str]:
    block = re.search(rf'<select id="[^"]*" name="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    assert block, name
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)<', block.group(1))
    return {value: html.unescape(label) for value, label in options}


def _post_form(client, form: dict[str, str], path: str = "/reports/designer"):
    page = client.get("/reports/designer")
    return client.post(path, data={**form, "csrf_token": csrf_of(page.text)})


def test_analyst_previews_a_draft_with_small_cells_hidden(clinic):
    cache = clinic.runtime.records.report_cache
    assert cache is not None and len(cache) == 0
    analyst = clinic.api("analyst").post("/api/reports/preview", json=BY_DOCTOR)
    assert analyst.status_code == 200, analyst.text
    body = analyst.json()
    assert [(row["doctor"], row["appointments"]) for row in body["rows"]] == [(1, "<5"), (2, "<5")]
    assert body["suppressed"] == 2
    assert "doctor__title" not in body["rows"][0]  # the analyst may not read staff names

    admin = clinic.api("admin").post(
        "/api/reports/preview", json={"name": "mine", "report": {**BY_DOCTOR, "totals": True}, "params": {}}
    )
    assert admin.status_code == 200, admin.text
    cells = admin.json()
    assert [(row["doctor"], row["appointments"]) for row in cells["rows"]] == [(1, 2), (2, 2)]
    assert cells["totals"]["appointments"] == 4 and cells["suppressed"] == 0 and cells["report"] == "mine"
    assert cells["columns"][0]["values"] == {"1": "Dr. Li", "2": "Dr. Zhao"}
    page = clinic.api("admin").post("/api/reports/preview?offset=1&limit=1", json=BY_DOCTOR).json()
    assert [row["doctor"] for row in page["rows"]] == [2] and page["total_rows"] == 2 and page["limit"] == 1
    assert clinic.api("admin").post("/api/reports/preview?limit=0", json=BY_DOCTOR).status_code == 400

    page = _post_form(clinic.login("analyst"), FORM)
    assert page.status_code == 200, page.text
    assert _problems(page.text) == {}
    assert "<5" in _cells(page.text) and "2" not in _cells(page.text)[:4]
    assert "cells hidden for privacy" in page.text
    assert len(cache) == 0  # drafts are never cached
    runs = [json.loads(row.detail) for row in clinic.audit("report")]
    assert {(r["report"], r["via"], r.get("draft")) for r in runs} >= {
        ("draft", "designer", True),
        ("mine", "designer", True),
        ("appointments_by_doctor", "designer", True),
    }


@pytest.mark.parametrize(
    ("role", "draft", "field", "code"),
    [
        ("analyst", {**BY_DOCTOR, "dimensions": ["doctor.nope"]}, "dimensions.0.field", "report.unknown_field"),
        (
            "analyst",
            {**BY_DOCTOR, "measures": {"n": {"agg": "count"}, "r": {"expr": "n * len(n)"}}},
            "measures.r.expr",
            "report.bad_expression",
        ),
        ("analyst", {**BY_DOCTOR, "filters": ["status = 'no_show'"]}, "filters.0", "report.bad_filter"),
        (
            "analyst",
            {"source": "patient", "dimensions": ["id_number"], "measures": {"n": {"agg": "count"}}},
            "dimensions.0.field",
            "report.encrypted_field",
        ),
        (
            "front_desk",
            {"source": "patient", "filters": ["allergies == 'penicillin'"], "measures": {"n": {"agg": "count"}}},
            "report",
            "forbidden",
        ),
        ("front_desk", {"source": "visit", "measures": {"n": {"agg": "count"}}}, "source", "forbidden"),
        ("analyst", {"source": "nothing", "measures": {"n": {"agg": "count"}}}, "source", "report.unknown_entity"),
        ("analyst", {"source": "appointment"}, "report", "invalid"),
        ("analyst", {**BY_DOCTOR, "limit": 0}, "limit", "invalid"),
        ("analyst", {**BY_DOCTOR, "sql": "drop table patient"}, "sql", "invalid"),
    ],
)
def test_hostile_drafts_get_located_problems(clinic, role, draft, field, code):
    response = clinic.api(role).post("/api/reports/preview", json=draft)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert (field, code) in {(e["field"], e["code"]) for e in errors}, errors
    assert all(e["message"] and "Traceback" not in e["message"] for e in errors)
    assert "penicillin" not in response.text.replace("allergies == 'penicillin'", "")


def test_bad_bodies_are_400_and_the_page_shows_problems_beside_controls(clinic):
    api = clinic.api("analyst")
    assert api.post("/api/reports/preview", content=b"{not json").status_code == 400
    assert api.post("/api/reports/preview", json=[1, 2]).status_code == 400
    assert api.post("/api/reports/preview", json={"report": {}, "params": "x"}).status_code == 400
    assert clinic.anonymous().post("/api/reports/preview", json=BY_DOCTOR).status_code == 401

    form = {**FORM, "d0_field": "doctor.nope", "m1_name": "rate", "m1_agg": "expr", "m1_expr": "appointments +"}
    page = _post_form(clinic.login("analyst"), form)
    assert page.status_code == 200
    problems = _problems(page.text)
    assert "has no field `nope`" in problems["d0"][0]
    assert "m1" in problems
    assert "name" not in problems
    encrypted = _post_form(clinic.login("analyst"), {**FORM, "source": "patient", "d0_field": "id_number"})
    assert "encrypted" in _problems(encrypted.text)["d0"][0]


def test_front_desk_designs_only_over_what_it_reads(clinic):
    desk = clinic.login("front_desk")
    page = desk.get("/reports/designer?source=patient")
    assert page.status_code == 200
    sources = _options(page.text, "source")
    assert "patient" in sources and "appointment" in sources and "visit" not in sources
    paths = _options(page.text, "d0_field")
    assert "gender" in paths and "allergies" not in paths and "id_number" not in paths
    assert paths["primary_doctor.name"] == "Primary doctor › Name"
    by_gender = {"source": "patient", "dimensions": ["gender"], "measures": {"n": {"agg": "count"}}}
    result = clinic.api("front_desk").post("/api/reports/preview", json=by_gender)
    assert result.status_code == 200, result.text
    assert {row["gender"]: row["n"] for row in result.json()["rows"]} == {"female": 2, "male": 2}  # reads: no hiding
    hidden = clinic.api("front_desk").post("/api/reports/preview", json={**by_gender, "dimensions": ["allergies"]})
    assert hidden.status_code == 422
    assert clinic.login("marketing").get("/reports/designer").status_code == 200  # reads patients: may design
    other = desk.get("/reports/designer?from=revisit_rate")  # not a report the front desk is offered
    assert other.status_code == 200 and "revisit_rate" not in other.text
    assert "data-designer-link" in clinic.login("analyst").get("/reports").text


def test_the_designer_speaks_chinese_with_labels_not_codes(clinic):
    client = clinic.login("analyst")
    page = client.get("/")
    client.post("/locale", data={"locale": "zh-CN", "next": "/", "csrf_token": csrf_of(page.text)})
    page = client.get("/reports/designer?from=no_show_rate")
    assert page.status_code == 200
    assert "报表设计器" in page.text and "data-save>" not in page.text and "只有管理员" in page.text
    assert _options(page.text, "m0_agg")["count"] == "记录数"
    assert _options(page.text, "d0_by")["week"] == "周"
    assert _options(page.text, "source")["appointment"] == "预约"
    assert _options(page.text, "period_default")["last_3_months"] == "最近 3 个月"
    assert "no_show_rate:" in html.unescape(page.text) and "status == 'no_show'" in html.unescape(page.text)
    assert _problems(page.text) == {}
    cohort = client.get("/reports/designer?from=first_visit_cohort")
    assert cohort.status_code == 200 and "队列报表" in cohort.text


@pytest.fixture
def own_clinic(tmp_path, database_url):
    """A clinic whose blueprint is a copy in tmp: the admin may save into it."""
    with clinic_copy(tmp_path, database_url) as made:
        yield made


def test_only_the_admin_saves_and_a_saved_report_passes_validate(own_clinic):
    blueprint = own_clinic.runtime.project.blueprint_path
    saved = blueprint / "reports" / "appointments_by_doctor.yaml"
    assert _post_form(own_clinic.login("analyst"), FORM, "/reports/designer/save").status_code == 403
    admin = own_clinic.login("admin")
    assert admin.post("/reports/designer/save", data=FORM).status_code == 403  # no CSRF token
    assert not saved.exists()

    response = _post_form(admin, FORM, "/reports/designer/save")
    assert response.status_code == 200, response.text
    assert "Saved as reports/appointments_by_doctor.yaml" in response.text and "next page" in response.text
    assert saved.read_text(encoding="utf-8").startswith("appointments_by_doctor:\n")
    loaded = load_checked(blueprint)  # what `crm validate` runs
    assert loaded.blueprint.reports["appointments_by_doctor"].chart.type == "bar"
    # this runtime object keeps its blueprint; a server's follower serves the new one (test_followed_reports.py)
    assert "appointments_by_doctor" not in own_clinic.runtime.blueprint.reports
    reopened = open_runtime(own_clinic.runtime.project, own_clinic.runtime.project.database_url)
    try:
        assert reopened.blueprint.reports["appointments_by_doctor"].title["zh-CN"] == "各医生预约数"
    finally:
        reopened.close()
    entries = [json.loads(row.detail) for row in own_clinic.audit("report_saved")]
    file = "reports/appointments_by_doctor.yaml"
    assert entries == [{"report": "appointments_by_doctor", "file": file, "replaced": False}]

    again = _post_form(admin, FORM, "/reports/designer/save")
    assert again.status_code == 409 and "tick" in again.text
    replaced = _post_form(admin, {**FORM, "replace": "1", "d0_by": ""}, "/reports/designer/save")
    assert replaced.status_code == 200, replaced.text
    elsewhere = _post_form(admin, {**FORM, "name": "no_show_rate", "replace": "1"}, "/reports/designer/save")
    assert elsewhere.status_code == 409 and "another file" in elsewhere.text
    broken = _post_form(admin, {**FORM, "d0_field": "nope"}, "/reports/designer/save")
    assert broken.status_code == 422 and not (blueprint / "reports" / "nope.yaml").exists()
    assert [json.loads(row.detail)["replaced"] for row in own_clinic.audit("report_saved")] == [False, True]


def test_a_single_file_blueprint_is_refused_in_words(tmp_path):
    single = tmp_path / "blueprint.yaml"
    single.write_text("app: {name: x}\n", encoding="utf-8")
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    actor = Actor(id=1, name="admin", role="admin", locale="en")
    with pytest.raises(SaveRefused, match="single file"):
        save_report(engine, actor, single, "x", "x: {}\n", existing=False, replace=False, at=dt.datetime.now())
    assert single.read_text(encoding="utf-8") == "app: {name: x}\n"


def test_preview_is_in_the_openapi_document(clinic):
    document = clinic.api("admin").get("/api/openapi.json").json()
    operation = document["paths"]["/api/reports/preview"]["post"]
    assert operation["operationId"] == "preview_report" and "422" in operation["responses"]
    assert "ReportDraft" in document["components"]["schemas"]


def test_the_field_picker_follows_links_three_deep_through_what_the_role_may_see(clinic):
    admin = _options(clinic.login("admin").get("/reports/designer?source=satisfaction").text, "d0_field")
    assert admin["visit.patient.primary_doctor.name"] == "Visit › Patient › Primary doctor › Name"
    assert "visit.doctor.department" in admin and "visit.patient.gender" in admin
    assert max(path.count(".") for path in admin) == 3  # at most three links crossed
    assert not any(path.startswith("visit.patient.") and ".visit" in path for path in admin)  # no loop back
    desk = _options(clinic.login("front_desk").get("/reports/designer?source=appointment").text, "d0_field")
    assert desk["patient.primary_doctor.name"] == "Patient › Primary doctor › Name"
    assert not any("allergies" in path or "id_number" in path for path in desk)
    marketing = _options(clinic.login("marketing").get("/reports/designer?source=patient").text, "d0_field")
    assert "name" in marketing and not any(path.startswith("primary_doctor") for path in marketing)  # not read
    deep = {
        "source": "satisfaction",
        "dimensions": ["visit.patient.primary_doctor"],
        "measures": {"n": {"agg": "count"}},
    }
    preview = clinic.api("analyst").post("/api/reports/preview", json=deep)
    assert preview.status_code == 200, preview.text
