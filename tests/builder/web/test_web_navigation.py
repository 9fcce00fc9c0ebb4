"""The menu and each role's home page, from the blueprint, on SQLite and PostgreSQL.

The menu offers what the user may open (entities it may read, its work pages, the
admin's pages), marks where the user is, folds on a phone, and speaks the user's
language. The home page shows the role's panels: the desk's check-in queue and today
by doctor, the doctor's own day (their row filter), or by default today's records.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from clinic_fixtures import CLINIC, SECRET, build_runtime, create_tokens, create_users, csrf_of, seed_clinic
from clinic_fixtures import ServedClinic as Clinic

from builder.records import SYSTEM


def _menu(html: str) -> str:
    match = re.search(r'<details class="main-menu".*?</details>', html, re.S)
    return match.group(0) if match else ""


def _links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', _menu(html))


def _current(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" aria-current="page"', _menu(html))


def test_the_default_menu_offers_what_each_role_may_open(clinic):
    admin = clinic.login("admin").get("/").text
    links = _links(admin)
    for href in ("/records/patient", "/records/appointment", "/tasks", "/inbox", "/reports", "/audit", "/outbox"):
        assert href in links, href
    assert "/import" in links and "/dashboards/operations" in links and "/dashboards/today" in links
    nurse = _links(clinic.login("nurse").get("/").text)
    assert "/records/vital_reading" in nurse and "/audit" not in nurse and "/import" not in nurse
    assert "/dashboards/today" not in nurse
    desk = _links(clinic.login("front_desk").get("/").text)
    assert "/records/patient" in desk and "/records/visit" not in desk and "/review" in desk
    analyst = _links(clinic.login("analyst").get("/").text)
    assert not [link for link in analyst if link.startswith("/records/")]  # aggregate reports only
    assert "/reports" in analyst and "/tasks" not in analyst  # no tasks possible: no entry


def test_the_menu_marks_where_the_user_is_and_folds_on_a_phone(clinic):
    client = clinic.login("admin")
    patient = clinic.data["patients"][0]["id"]
    assert _current(client.get(f"/records/patient/{patient}").text) == ["/records/patient"]
    assert _current(client.get("/records/appointment").text) == ["/records/appointment"]
    assert _current(client.get("/audit").text) == ["/audit"]
    page = client.get("/").text
    assert '<details class="main-menu" open>' in page and '<summary class="menu-toggle">Menu' in page
    tasks = int(re.search(r'class="tasks-link">My tasks <span class="badge"[^>]*>(\d+)<', page).group(1))
    summary = re.search(
        r'<summary class="menu-toggle">Menu <span class="badge" aria-label="(\d+) waiting in the menu">', page
    )
    assert summary and int(summary.group(1)) >= tasks > 0  # what waits shows on the folded menu too
    assert '<nav aria-label="Main menu">' in page
    css = client.get("/static/app.css").text
    assert re.search(
        r"@media \(max-width: 39\.99em\) \{\s*\.main-menu > summary\.menu-toggle \{ display: list-item", css
    )
    assert 'matchMedia("(max-width: 39.99em)").matches) menu.open = false' in client.get("/static/forms.js").text
    assert "<details" not in clinic.anonymous().get("/login").text  # no menu before signing in


def test_the_menu_speaks_the_users_language(clinic):
    client = clinic.login("doctor")
    home = client.get("/")
    client.post("/locale", data={"csrf_token": csrf_of(home.text), "locale": "zh-CN", "next": "/"})
    menu = _menu(client.get("/").text)
    assert "患者" in menu and "就诊记录" in menu and "记录" in menu and "我的任务" in menu and "报表" in menu
    assert "Patient" not in menu


@pytest.fixture
def declared(tmp_path, database_url):
    """The clinic with a declared menu and an analyst whose home is a dashboard alone."""
    source = tmp_path / "blueprint"
    shutil.copytree(CLINIC, source)
    app = source / "app.yaml"
    text = app.read_text(encoding="utf-8")
    text = text.replace(
        "  timezone: Asia/Shanghai\n",
        "  timezone: Asia/Shanghai\n"
        "  menu:\n"
        "    - label: {en: Today, zh-CN: 今日}\n"
        "      items: [{page: home}, {entity: appointment, label: {en: Bookings, zh-CN: 预约单}}, {dashboard: today}]\n"
        "    - label: {en: People, zh-CN: 人员}\n"
        "      items: [{entity: patient}, {entity: visit}, {report: new_patients}]\n",
    )
    text = text.replace(
        "  analyst:    {title: {en: Analyst, zh-CN: 数据分析}}",
        "  analyst:    {title: {en: Analyst, zh-CN: 数据分析}, home: {dashboard: operations}}",
    )
    app.write_text(text, encoding="utf-8")
    runtime = build_runtime(tmp_path / "project", database_url, source=Path(source))
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    actors = create_users(runtime)
    made = Clinic(runtime, create_app(runtime, SecuritySettings(secret_key=SECRET)), actors, create_tokens(runtime), {})
    made.data = seed_clinic(runtime, actors)
    try:
        yield made
    finally:
        made.close()
        runtime.close()


def test_a_declared_menu_keeps_its_order_and_labels_and_adds_the_pages_it_left_out(declared):
    admin = declared.login("admin").get("/").text
    links = _links(admin)
    assert links[:6] == [
        "/",
        "/records/appointment",
        "/dashboards/today",
        "/records/patient",
        "/records/visit",
        "/reports/new_patients",
    ]
    assert "Bookings" in _menu(admin) and "People" in _menu(admin)
    assert {"/tasks", "/inbox", "/reports", "/audit", "/outbox", "/import"} <= set(links[6:])  # "More": nothing lost
    assert ">More<" in _menu(admin)
    desk = _links(declared.login("front_desk").get("/").text)
    assert "/records/visit" not in desk and "/reports/new_patients" in desk  # may not read visits: not offered
    assert "/audit" not in desk


def test_a_home_that_is_a_dashboard_opens_it(declared):
    response = declared.login("analyst").get("/")
    assert response.status_code == 303 and response.headers["location"] == "/dashboards/operations"


def _today(clinic, hour: int) -> str:
    return clinic.runtime.records.clock().replace(hour=hour, minute=0, second=0).isoformat()


def test_the_front_desk_starts_with_the_check_in_queue_and_today_by_doctor(clinic):
    service = clinic.runtime.records
    staff, patients = clinic.data["staff"], clinic.data["patients"]
    made = [
        service.create(
            SYSTEM,
            "appointment",
            {"patient": patients[i]["id"], "doctor": staff[i % 2]["id"], "starts_at": _today(clinic, 8 + i)},
        )
        for i in range(3)
    ]
    confirmed = service.transition(SYSTEM, "appointment", made[1]["id"], "confirm", made[1]["version"])
    service.transition(SYSTEM, "appointment", made[1]["id"], "check_in", confirmed["version"])
    page = clinic.login("front_desk").get("/").text
    assert "Your dashboard: Today" in page  # the desk's home dashboard, linked first
    panels = re.findall(r'<section class="panel home-panel".*?</section>', page, re.S)
    queue, by_doctor = panels
    assert "Waiting (checked in)" in queue and "Zhang Wei" in queue and "Wang Fang" not in queue
    assert "Checked in" not in queue or "Zhang Wei" in queue
    assert re.search(r"Dr\. Li <span class=\"muted\">\(2\)</span>", by_doctor)
    assert re.search(r"Dr\. Zhao <span class=\"muted\">\(1\)</span>", by_doctor)
    assert "Requested" in by_doctor and "requested" not in re.sub(r"<[^>]+>", " ", by_doctor)  # labels
    assert "Signed in as front_desk (Front desk)" in page  # the role's title, not its code


def test_a_doctor_starts_with_their_own_day(clinic):
    service = clinic.runtime.records
    staff, patients = clinic.data["staff"], clinic.data["patients"]
    for i in range(4):
        service.create(
            SYSTEM,
            "appointment",
            {"patient": patients[i]["id"], "doctor": staff[i % 2]["id"], "starts_at": _today(clinic, 8 + i)},
        )
    page = clinic.login("doctor").get("/").text
    assert "My appointments today" in page and "Open follow-ups" in page
    mine = re.search(r'<section class="panel home-panel".*?</section>', page, re.S).group(0)
    assert "Wang Fang" in mine and "Liu Yang" in mine
    assert "Zhang Wei" not in mine and "Chen Jing" not in mine  # Dr. Zhao's: not this doctor's rows
    assert "Check BP" in page  # the open follow-up
    other = clinic.login("doctor2").get("/").text
    assert "Zhang Wei" in other and "Wang Fang" not in re.search(r"<section.*?</section>", other, re.S).group(0)


def test_without_a_declared_home_a_role_gets_todays_records(clinic):
    service = clinic.runtime.records
    service.create(
        SYSTEM,
        "appointment",
        {
            "patient": clinic.data["patients"][0]["id"],
            "doctor": clinic.data["staff"][0]["id"],
            "starts_at": _today(clinic, 9),
        },
    )
    page = clinic.login("nurse").get("/").text
    assert "Today: Appointment" in page and "Today: Visit" in page and "Wang Fang" in page
    see_all = re.search(r'<a href="(/records/appointment\?[^"]+)">Open the list</a>', page).group(1)
    listed = clinic.login("nurse").get(see_all.replace("&amp;", "&"))
    assert listed.status_code == 200 and "Wang Fang" in listed.text
