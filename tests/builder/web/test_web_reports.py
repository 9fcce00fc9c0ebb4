"""Report pages, dashboards and the reports API, served by the real app on SQLite and PostgreSQL.

The clinic's four March appointments (two per doctor) are confirmed and marked
no-shows, so the no-show report has cells to compare: the admin sees all four,
each doctor their own two (the row filter), the analyst (`report: true` only)
sees every small count hidden, and no drill-down link.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from clinic_fixtures import csrf_of

from builder.records import SYSTEM

MARCH = "2026-03-01..2026-03-31"
CHART_JSON = re.compile(r'<script type="application/json" id="chart-data-[^"]*">(.*?)</script>', re.S)
DRILL = re.compile(r'href="(/records/[^"?]+\?[^"]+)"')  # a drill-down: a list with filters (not the menu's lists)


def _no_shows(clinic) -> None:
    service = clinic.runtime.records
    for appointment in clinic.data["appointments"]:
        record = service.transition(SYSTEM, "appointment", appointment["id"], "confirm", appointment["version"])
        service.transition(SYSTEM, "appointment", appointment["id"], "mark_no_show", record["version"])


def _report_links(page: str) -> set[str]:
    return set(re.findall(r'href="/reports/([a-z_]+)"', page)) - {"designer"}  # the designer's link is no report


def _charts(page: str) -> list[dict]:
    return [json.loads(text) for text in CHART_JSON.findall(page)]


def _cells(page: str) -> list[str]:
    """The table cells' texts (links unwrapped)."""
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def _to_chinese(client) -> None:
    page = client.get("/")
    response = client.post("/locale", data={"locale": "zh-CN", "next": "/", "csrf_token": csrf_of(page.text)})
    assert response.status_code in (303, 302), response.text


def test_each_role_sees_the_reports_and_dashboards_it_may_open(clinic):
    appointments = {"no_show_rate", "appointment_load", "appointments_forecast", "appointments_today"}
    everything = {
        *appointments,
        "follow_up_completion",
        "new_patients",
        "bp_risk_distribution",
        "revisit_rate",
        "visits_trend",
        "first_visit_cohort",
    }
    expected = {
        "admin": everything,
        "analyst": everything,
        "doctor": everything,
        "front_desk": {*appointments, "new_patients"},  # no visits, readings or follow-ups
        "marketing": set(),  # reads patients, but not their channel: new patients by channel is not offered
    }
    for role, names in expected.items():
        client = clinic.login(role)
        assert _report_links(client.get("/reports").text) == names, role
        for name in ("revisit_rate", "follow_up_completion", "bp_risk_distribution"):
            status = client.get(f"/reports/{name}").status_code
            assert status == (200 if name in names else 403), (role, name, status)
            assert clinic.api(role).get(f"/api/reports/{name}").status_code == status
        listed = {r["name"] for r in clinic.api(role).get("/api/reports").json()["reports"]}
        assert listed == names
        if role == "marketing":
            assert client.get("/reports/new_patients").status_code == 403
            continue
        board = client.get("/dashboards/operations").status_code
        assert board == (200 if role in ("admin", "analyst") else 403), (role, board)
    assert clinic.login("admin").get("/dashboards/nope").status_code == 404
    assert clinic.login("admin").get("/reports/nope").status_code == 404
    assert clinic.anonymous().get("/api/reports/no_show_rate").status_code == 401
    assert clinic.anonymous().get("/reports/no_show_rate").status_code == 303  # to the sign-in page


def test_row_filters_apply_to_the_cells(clinic):
    _no_shows(clinic)
    body = clinic.api("admin").get(f"/api/reports/no_show_rate?period={MARCH}").json()
    assert body["totals"] == {"due": 4, "no_shows": 4, "no_show_rate": 1.0}
    for doctor in ("doctor", "doctor2"):  # each doctor's own two appointments (`doctor.user == user.id`)
        page = clinic.login(doctor).get(f"/reports/no_show_rate?period={MARCH}").text
        assert _cells(page)[-4:] == ["Total", "2", "2", "100.0%"], doctor
    admin = clinic.login("admin").get(f"/reports/no_show_rate?period={MARCH}").text
    assert _cells(admin)[-4:] == ["Total", "4", "4", "100.0%"]


def test_the_analyst_sees_aggregates_only_small_cells_leave_no_trace(clinic):
    _no_shows(clinic)
    client = clinic.login("analyst")
    page = client.get(f"/reports/no_show_rate?period={MARCH}").text
    assert not DRILL.findall(page)  # aggregates only: no link to any record
    assert "cells hidden for privacy" in page
    hidden = [c for c in _cells(page) if c == "<5"]
    assert hidden, _cells(page)
    for chart in _charts(page):
        for series in chart["series"]:
            assert all(v in (0, None) for v in series["data"]), series  # the hidden counts are not in the JSON
            assert not any(series["links"])
    body = clinic.api("analyst").get(f"/api/reports/no_show_rate?period={MARCH}").json()
    assert body["suppressed"] > 0
    assert body["totals"] == {"due": "<5", "no_shows": "<5", "no_show_rate": "<5"}
    for row in body["rows"]:
        assert row["due"] in (0, "<5") and row["no_shows"] in (0, "<5"), row
    board = client.get(f"/dashboards/operations?period={MARCH}").text
    assert not DRILL.findall(board)
    assert "4" not in [c for c in _cells(board)]  # nor on the dashboard's tables


def test_drill_down_opens_the_normal_audited_list_of_the_group(clinic):
    _no_shows(clinic)
    client = clinic.login("admin")
    page = client.get(f"/reports/no_show_rate?period={MARCH}").text
    links = sorted({html.unescape(link) for link in DRILL.findall(page)})
    week10 = "/records/appointment?starts_at__gte=2026-03-02T00%3A00&starts_at__lt=2026-03-09T00%3A00"
    assert week10 in links, links
    total = "/records/appointment?starts_at__gte=2026-03-01T00%3A00&starts_at__lt=2026-04-01T00%3A00"
    assert total in links
    listed = client.get(week10)
    assert listed.status_code == 200
    shown = set(re.findall(r'href="/records/appointment/(\d+)"', listed.text))
    ids = {str(a["id"]) for a in clinic.data["appointments"]}
    assert len(shown) == 3 and shown <= ids  # 2, 3 and 4 March; 1 March is a Sunday (week 9)
    visits = client.get("/reports/revisit_rate?period=all").text  # visits hold PHI: their views are audited
    link = html.unescape(DRILL.findall(visits)[0])
    assert link.startswith("/records/visit?visited_at__gte=2026-03-01T00") and "doctor=" in link, link
    drilled = client.get(link)
    assert drilled.status_code == 200
    assert re.findall(r'href="/records/visit/(\d+)"', drilled.text) == [str(clinic.data["visit"]["id"])]
    before = len(clinic.audit("list"))  # the drill-down is the normal list view, audited as usual: with the
    assert client.get(link + "&fields=diagnosis").status_code == 200  # API's PHI in it, an entry
    api = clinic.api("admin").get("/api" + link.removeprefix("/records") + "&fields=diagnosis")
    assert api.status_code == 200
    entries = clinic.audit("list")
    assert len(entries) >= before + 1
    detail = json.loads(entries[-1].detail)
    assert detail["ids"] == [clinic.data["visit"]["id"]] and detail["fields"] == ["diagnosis"]
    assert set(detail["filters"]) == {"visited_at__gte", "visited_at__lt", "doctor"}
    doctor = clinic.login("doctor").get(f"/reports/no_show_rate?period={MARCH}").text
    assert DRILL.findall(doctor)  # a doctor may read appointments: links (their list keeps their row filter)
    months = clinic.login("admin").get("/reports/new_patients?period=all").text
    assert any("created_at__gte=" in html.unescape(link) for link in DRILL.findall(months)) or "(none)" in months


def test_created_at_ranges_are_list_filters(clinic):
    client = clinic.api("admin")
    everyone = client.get("/api/patient?created_at__gte=2000-01-01T00:00").json()["total"]
    assert everyone == 4
    assert client.get("/api/patient?created_at__lt=2000-01-01T00:00").json()["total"] == 0
    bad = client.get("/api/patient?created_at__gte=yesterday")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "created_at__gte"


def test_cells_read_as_labels_not_codes_in_both_locales(clinic):
    _no_shows(clinic)
    client = clinic.login("admin")
    weeks = _cells(client.get(f"/reports/no_show_rate?period={MARCH}").text)
    assert "Week 10, 2026" in weeks and "100.0%" in weeks and "2026-W10" not in weeks
    visits = _cells(client.get("/reports/revisit_rate?period=all").text)
    assert "Dr. Li" in visits and "Mar 2026" in visits
    risk = client.get("/reports/bp_risk_distribution?period=all")
    cells = _cells(risk.text)
    assert set(cells) & {"Normal", "Elevated", "High"}, cells
    assert not set(cells) & {"normal", "elevated", "high"}
    _to_chinese(client)
    weeks = _cells(client.get(f"/reports/no_show_rate?period={MARCH}").text)
    assert "2026年第10周" in weeks
    assert "2026年3月" in _cells(client.get("/reports/revisit_rate?period=all").text)
    cells = _cells(client.get("/reports/bp_risk_distribution?period=all").text)
    assert set(cells) & {"正常", "偏高", "高危"}, cells
    form = client.get("/reports/no_show_rate").text
    assert "最近 3 个月" in form and ">电话<" in form  # period presets and channel options in words


def test_the_api_pages_rows_and_refuses_bad_input_with_our_error_shape(clinic):
    _no_shows(clinic)
    api = clinic.api("admin")
    whole = api.get(f"/api/reports/no_show_rate?period={MARCH}").json()
    assert whole["total_rows"] == len(whole["rows"]) == 6  # weeks 9 to 14, empty ones filled
    assert whole["limit"] == 500 and whole["offset"] == 0
    labels = {c["name"]: c["label"] for c in whole["columns"]}
    assert labels["no_show_rate"] == "爽约率"  # the token's account speaks the app's first language
    week = next(c for c in whole["columns"] if c["name"] == "week")
    assert week["values"]["2026-W10"] == "2026年第10周"
    visits = api.get("/api/reports/revisit_rate?period=all").json()
    doctor_columns = [(c["name"], c["kind"], c["label"]) for c in visits["columns"] if c["name"].startswith("doctor")]
    assert doctor_columns == [("doctor", "dimension", "医生"), ("doctor__title", "title", "医生")]
    assert visits["rows"][0]["doctor__title"] == "Dr. Li"
    page = api.get(f"/api/reports/no_show_rate?period={MARCH}&offset=2&limit=2").json()
    assert page["rows"] == whole["rows"][2:4] and page["total_rows"] == 6
    cases = {
        "/api/reports/no_show_rate?period=someday": (422, "period"),
        "/api/reports/no_show_rate?doctor=abc": (422, "doctor"),
        "/api/reports/no_show_rate?channel=fax": (422, "channel"),
        "/api/reports/no_show_rate?colour=red": (400, "colour"),
        "/api/reports/no_show_rate?limit=5001": (400, "limit"),
        "/api/reports/no_show_rate?offset=-1": (400, "offset"),
        "/api/reports/no_show_rate?limit=ten": (400, "limit"),
        "/api/reports/nothing_here": (404, "__all__"),
    }
    for url, (status, field) in cases.items():
        response = api.get(url)
        assert response.status_code == status, (url, response.text)
        assert response.json()["errors"][0]["field"] == field, (url, response.text)
    assert clinic.api("marketing").get("/api/reports/no_show_rate").status_code == 403
    bad_page = clinic.login("admin").get("/reports/no_show_rate?period=someday")
    assert bad_page.status_code == 400 and "unknown period" in bad_page.text


def test_openapi_documents_the_reports(clinic):
    spec = clinic.api("admin").get("/api/openapi.json").json()
    assert "/api/reports" in spec["paths"]
    operation = spec["paths"]["/api/reports/no_show_rate"]["get"]
    names = [p["name"] for p in operation["parameters"]]
    assert names == ["period", "doctor", "channel", "offset", "limit"]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404", "422"}
    assert "ReportResult" in spec["components"]["schemas"]
    assert clinic.login("admin").get("/api/docs").status_code == 200


def test_dashboard_filters_apply_to_every_card_and_the_home_page_links_it(clinic):
    _no_shows(clinic)
    client = clinic.login("admin")
    page = client.get(f"/dashboards/operations?period={MARCH}").text
    kpis = re.findall(r'<p class="kpi-value[^"]*">([^<]*)</p>', page)
    assert kpis[0] == "100.0%"  # no-show rate over March, from the global period
    assert 'name="period"' in page and 'name="doctor"' in page  # shared by two reports or more
    assert 'name="channel"' not in page  # one report's own parameter is not global
    # revisit rate, no-shows, blood pressure, the visits trend, the load heat map, the cohort and the forecast
    # (no new patients in March: a note instead of a chart)
    assert len(_charts(page)) == 7
    staff = clinic.data["staff"][1]["id"]
    one_doctor = client.get(f"/dashboards/operations?period={MARCH}&doctor={staff}").text
    assert re.findall(r'<p class="kpi-value[^"]*">([^<]*)</p>', one_doctor)[0] == "100.0%"
    no_show = clinic.api("admin").get(f"/api/reports/no_show_rate?period={MARCH}&doctor={staff}").json()
    assert no_show["totals"]["due"] == 2
    assert client.get("/dashboards/operations?period=never").status_code == 400
    unknown = client.get("/dashboards/operations?colour=red")
    assert unknown.status_code == 400 and "no filter `colour`; it has: period, doctor" in unknown.text
    home = clinic.login("analyst").get("/").text
    assert "Your dashboard: Operations" in home and 'href="/dashboards/operations"' in home
    front = clinic.login("front_desk").get("/").text
    assert 'href="/dashboards/today"' in front and "/dashboards/operations" not in front  # their own home only
    today = clinic.login("front_desk").get("/dashboards/today")
    assert today.status_code == 200 and "kpi-value" in today.text
    nurse = clinic.login("nurse").get("/").text
    assert "/dashboards/" not in nurse  # no dashboard is home for nurses


def test_charts_library_missing_the_tables_still_work(clinic, monkeypatch, tmp_path):
    client = clinic.login("admin")
    page = client.get("/reports/revisit_rate?period=all").text
    assert "/static/vendor/echarts.min.js" in page and "charts library is not installed" not in page
    monkeypatch.setenv("CRM_ECHARTS_FILE", str(tmp_path / "missing.js"))
    assert client.get("/static/vendor/echarts.min.js").status_code == 404
    page = client.get("/reports/revisit_rate?period=all").text
    assert "charts library is not installed" in page
    assert "/static/vendor/echarts.min.js" not in page
    assert "Dr. Li" in _cells(page)


def test_export_links_only_for_roles_that_may_export(clinic):
    admin = clinic.login("admin")
    page = admin.get("/reports/no_show_rate?period=last_3_months").text
    links = [html.unescape(link) for link in re.findall(r'href="([^"]+)" download data-export', page)]
    assert links == [
        "/api/reports/no_show_rate/export?period=last_3_months&format=csv",
        "/api/reports/no_show_rate/export?period=last_3_months&format=xlsx",
    ]
    exported = clinic.api("admin").get(links[0])
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    for role in ("analyst", "front_desk", "doctor"):  # none of them has `export: true` on appointments
        assert "data-export" not in clinic.login(role).get("/reports/no_show_rate").text


@pytest.mark.parametrize("large", [False, True])
def test_report_page_has_its_chart_table_and_controls(clinic, large):
    client = clinic.login("admin")
    if large:
        page = client.get("/")
        client.post("/large-text", data={"large_text": "on", "next": "/", "csrf_token": csrf_of(page.text)})
    page = client.get("/reports/new_patients?period=all").text
    assert ('class="large-text"' in page) == large
    chart = _charts(page)[0]
    assert chart["type"] == "stacked_bar" and chart["format"] == "integer"
    assert 'data-png="chart-report"' in page and "data-toggle-table" in page
    assert '<option value="custom"' in page and 'name="period__from"' in page
    assert "<tfoot>" in page  # the totals row


def test_the_page_shows_a_large_result_a_page_at_a_time(clinic, monkeypatch):
    import builder.web.reports.pages as pages

    monkeypatch.setattr(pages, "PAGE_ROWS", 2)
    client = clinic.login("admin")
    page = client.get(f"/reports/no_show_rate?period={MARCH}").text
    assert "1–2 of 6 rows" in page and len(_cells(page)) == 2 * 4 + 4  # two rows and the totals
    following = html.unescape(re.search(r'rel="next" href="([^"]+)"', page).group(1))
    assert "offset=2" in following
    page = client.get(f"/reports/no_show_rate{following}").text
    assert "3–4 of 6 rows" in page and 'rel="prev"' in page


def test_a_hostile_name_stays_text_in_the_table_and_the_chart_data(clinic):
    service = clinic.runtime.records
    doctor = clinic.data["staff"][0]
    service.update(SYSTEM, "staff", doctor["id"], {"name": "</script><script>alert(1)</script>"}, doctor["version"])
    page = clinic.login("admin").get("/reports/revisit_rate?period=all").text
    assert "<script>alert(1)" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the table, escaped
    chart = _charts(page)[0]
    assert chart["series"][0]["name"] == "</script><script>alert(1)</script>"  # the JSON, intact as data
