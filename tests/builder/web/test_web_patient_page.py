"""The patient at the centre: related lists, trends, history, "New…" prefilled, the printable view.

Every list on the page goes through the record service as the viewer, so these tests
check what each role sees (and does not), on SQLite and PostgreSQL, and that the page's
queries do not grow with the number of related rows.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import sqlalchemy as sa
from clinic_fixtures import csrf_of

from builder.records import SYSTEM


def _text(html: str) -> str:
    """The visible words of a page's main part (tags and SVG dropped)."""
    main = html[html.index("<main") :] if "<main" in html else html
    main = re.sub(r"<svg.*?</svg>", " ", main, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def _section(html: str, entity: str) -> str:
    match = re.search(rf'<section class="panel related" id="related-{entity}-[a-z_]+".*?</section>', html, re.S)
    return match.group(0) if match else ""


def test_the_patient_page_shows_related_records_in_words_as_each_role_may_read_them(clinic):
    patient = clinic.data["patients"][0]
    doctor = clinic.login("doctor").get(f"/records/patient/{patient['id']}")
    assert doctor.status_code == 200
    appointments = _section(doctor.text, "appointment")
    assert "Appointment" in appointments and "Requested" in appointments and "Dr. Li" in appointments
    assert "requested" not in _text(appointments) and "phone" not in _text(appointments)  # labels, not codes
    assert "Visit" in _section(doctor.text, "visit") and "Follow-up" in _section(doctor.text, "follow_up")
    readings = _section(doctor.text, "vital_reading")
    assert "150" in readings and "Elevated" in readings
    assert (
        '<svg class="sparkline"' in readings and 'aria-label="Trend of Systolic (mmHg) / Diastolic (mmHg)"' in readings
    )

    desk = clinic.login("front_desk").get(f"/records/patient/{patient['id']}").text
    assert _section(desk, "appointment")  # the desk reads appointments…
    for hidden in ("visit", "vital_reading", "follow_up"):  # …but no clinical records: no panel at all
        assert not _section(desk, hidden)
    assert "sparkline" not in desk

    # the second doctor's row filter: only their own appointments, even on another doctor's patient's page
    other = clinic.login("doctor2").get(f"/records/patient/{patient['id']}").text
    assert "Dr. Li" not in _section(other, "appointment") and "None yet." in _section(other, "appointment")


def test_a_related_list_shows_five_newest_and_links_to_the_whole_filtered_list(clinic):
    service = clinic.runtime.records
    patient, doctor = clinic.data["patients"][1], clinic.data["staff"][1]
    for day in range(1, 8):
        service.create(
            SYSTEM,
            "appointment",
            {"patient": patient["id"], "doctor": doctor["id"], "starts_at": f"2026-04-{day:02d}T10:00"},
        )
    client = clinic.login("front_desk")
    page = _section(client.get(f"/records/patient/{patient['id']}").text, "appointment")
    shown = re.findall(r"2026-0\d-\d\d \d\d:\d\d", page)
    assert shown == [f"2026-04-{d:02d} 10:00" for d in (7, 6, 5, 4, 3)]  # newest first, five of eight
    see_all = re.search(r'href="(/records/appointment\?patient=\d+)">See all 8<', page)
    assert see_all, page
    listed = client.get(see_all.group(1))
    assert listed.status_code == 200 and listed.text.count("2026-04-") == 7


def test_new_appointment_from_the_patient_page_has_the_patient_filled_in(clinic):
    patient = clinic.data["patients"][2]
    client = clinic.login("front_desk")
    page = client.get(f"/records/patient/{patient['id']}").text
    new = f"/records/appointment/new?patient={patient['id']}"
    assert f'href="{new}"' in page
    assert "/records/visit/new" not in page  # the desk may not create visits: not offered
    form = client.get(new)
    assert re.search(rf'<option value="{patient["id"]}" selected>Liu Yang', form.text)
    saved = client.post(
        "/records/appointment/new",
        data={
            "csrf_token": csrf_of(form.text),
            "patient": str(patient["id"]),
            "doctor": str(clinic.data["staff"][0]["id"]),
            "starts_at": "2026-05-04T09:00",
            "minutes": "20",
        },
    )
    assert saved.status_code == 303
    assert "2026-05-04 09:00" in _section(client.get(f"/records/patient/{patient['id']}").text, "appointment")
    # an id the user cannot see (here: none such) or not a number fills nothing in, and breaks nothing
    for odd in ("999999", "abc", "99999999999999999999999", "-1"):
        page = client.get(f"/records/appointment/new?patient={odd}")
        assert page.status_code == 200 and "selected>" not in page.text.split('id="f-patient"')[1].split("</select>")[0]


def test_a_record_prefilled_must_be_one_the_user_may_see(clinic):
    """Marketing reads only consenting patients; a link to another patient is not filled in."""
    from builder.web.pages.forms import link_prefill

    service = clinic.runtime.records
    marketing = clinic.actors["marketing"]
    consenting, refusing = clinic.data["patients"][0], clinic.data["patients"][1]
    entity = service.entities["appointment"]
    # marketing may not write appointments: nothing is filled in whatever the id
    assert link_prefill(service, marketing, entity, {"patient": str(consenting["id"])}) == {}
    desk = clinic.actors["front_desk"]
    assert link_prefill(service, desk, entity, {"patient": str(refusing["id"])}) == {"patient": refusing["id"]}
    from builder.web.presenting import titles_for

    assert titles_for(service, marketing, "patient", {refusing["id"]}) == {}  # what the prefill relies on


def test_the_history_shows_changes_as_the_viewer_may_read_them(clinic):
    service = clinic.runtime.records
    patient = clinic.data["patients"][1]
    current = service.get(SYSTEM, "patient", patient["id"])
    service.update(clinic.actors["doctor"], "patient", patient["id"], {"stage": "dormant"}, current["version"])
    current = service.get(SYSTEM, "patient", patient["id"])
    service.update(clinic.actors["doctor"], "patient", patient["id"], {"tags": ["vip", "elderly"]}, current["version"])
    doctor = _text(clinic.login("doctor").get(f"/records/patient/{patient['id']}").text)
    assert "History" in doctor and "Stage: Active → Dormant" in doctor and "by doctor (Doctor)" in doctor
    assert "Tags: VIP → VIP, Elderly" in doctor
    desk = _text(clinic.login("front_desk").get(f"/records/patient/{patient['id']}").text)
    assert "Stage: Active → Dormant" in desk  # the desk reads the stage…
    assert "Tags" not in desk  # …not the tags: that change is not shown at all
    assert "Allergies" not in desk  # nor the allergies given at creation


def test_the_printable_view_is_a4_with_the_clinic_and_the_date_and_is_audited(clinic):
    patient = clinic.data["patients"][0]
    client = clinic.login("doctor")
    page = client.get(f"/records/patient/{patient['id']}/print")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Sunrise Clinic CRM" in text and "Patient: Wang Fang" in text
    today = clinic.runtime.records.clock().strftime("%Y-%m-%d")
    assert f"Printed {today}" in text and "by doctor" in text
    assert "Female" in text and "female" not in text  # labels
    assert 'class="top-bar"' not in page.text  # no menu on paper
    css = client.get("/static/app.css").text
    assert "@page { size: A4" in css and "@media print" in css
    views = [r for r in clinic.audit("view") if r.record_id == patient["id"] and r.entity == "patient"]
    assert json.loads(views[-1].detail) == {"purpose": "print"} and views[-1].actor == "doctor"
    # a record the user may not see prints no more than it opens
    assert clinic.login("doctor").get("/records/patient/99999/print").status_code == 404
    staff = clinic.data["staff"][0]["id"]
    assert clinic.login("marketing").get(f"/records/staff/{staff}/print").status_code in (403, 404)


def test_printing_a_record_without_phi_is_still_audited(clinic):
    staff = clinic.data["staff"][0]
    before = len(clinic.audit("view"))
    assert clinic.login("admin").get(f"/records/staff/{staff['id']}").status_code == 200
    assert len(clinic.audit("view")) == before  # an ordinary view of a record without PHI is not
    assert clinic.login("admin").get(f"/records/staff/{staff['id']}/print").status_code == 200
    assert len(clinic.audit("view")) == before + 1


def test_the_patient_page_issues_the_same_number_of_queries_however_many_related_rows(clinic):
    service, engine = clinic.runtime.records, clinic.runtime.engine
    few, many = clinic.data["patients"][2], clinic.data["patients"][3]
    staff = clinic.data["staff"]
    start = dt.datetime(2026, 6, 1, 8, 0)
    # Six of each against twelve: both more than a panel shows (5), so both are counted. (A panel holding
    # all its rows is not counted at all: its total is what it shows, one query fewer, never more.)
    for patient, rows in ((few, 6), (many, 12)):
        for i in range(rows):
            moment = (start + dt.timedelta(days=i, hours=rows)).isoformat()
            doctor = staff[i % 2]["id"]
            service.create(SYSTEM, "appointment", {"patient": patient["id"], "doctor": doctor, "starts_at": moment})
            service.create(SYSTEM, "visit", {"patient": patient["id"], "doctor": doctor, "visited_at": moment})
            reading = {
                "patient": patient["id"],
                "taken_at": moment,
                "systolic": 120 + i,
                "diastolic": 80,
                "glucose": "5.5",
            }
            service.create(SYSTEM, "vital_reading", reading)
            due = f"2026-07-{i + 1:02d}"
            service.create(SYSTEM, "follow_up", {"patient": patient["id"], "assignee": staff[0]["id"], "due_on": due})
    client = clinic.login("admin")
    client.get(f"/records/patient/{few['id']}")  # warm: first-use work is not the page's

    counted: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        counted.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        counts = {}
        for patient in (few, many):
            counted.clear()
            page = client.get(f"/records/patient/{patient['id']}")
            assert page.status_code == 200
            counts[patient["id"]] = len(counted)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert "See all 12" in page.text and page.text.count("<circle") == 36  # 12 readings, 3 lines
    assert counts[few["id"]] == counts[many["id"]], counts
    assert counts[many["id"]] < 60


def test_the_patient_page_in_chinese(clinic):
    patient = clinic.data["patients"][0]
    client = clinic.login("doctor")
    home = client.get("/")
    client.post("/locale", data={"csrf_token": csrf_of(home.text), "locale": "zh-CN", "next": "/"})
    page = client.get(f"/records/patient/{patient['id']}").text
    text = _text(page)
    assert "预约" in _section(page, "appointment") and "待确认" in _section(page, "appointment")
    assert "新建就诊记录" in text and "历史记录" in text and "打印" in text
    assert "收缩压" in _section(page, "vital_reading") and "偏高" in _section(page, "vital_reading")
    printed = _text(client.get(f"/records/patient/{patient['id']}/print").text)
    assert "朝阳诊所患者管理" in printed and "打印时间" in printed


def test_a_records_history_is_read_by_an_index_added_to_older_databases_too(tmp_path):
    from builder.system_tables import create_system_tables

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as conn:  # crm_audit as it was before the record page read it
        conn.exec_driver_sql(
            "CREATE TABLE crm_audit (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, actor VARCHAR(64), "
            "role VARCHAR(64), address VARCHAR(64), action VARCHAR(32) NOT NULL, entity VARCHAR(64), "
            "record_id BIGINT, changes TEXT, detail TEXT)"
        )
    create_system_tables(engine)
    create_system_tables(engine)  # safe on every start
    indexes = {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes("crm_audit")}
    assert indexes["ix_crm_audit_record"] == ["entity", "record_id", "at"]
    engine.dispose()


def test_the_history_names_workflow_steps_by_their_labels(clinic):
    service = clinic.runtime.records
    appointment = clinic.data["appointments"][0]
    service.transition(clinic.actors["front_desk"], "appointment", appointment["id"], "confirm", appointment["version"])
    page = _text(clinic.login("admin").get(f"/records/appointment/{appointment['id']}").text)
    assert "Workflow step · Confirm by front_desk (Front desk)" in page
    assert "Status: Requested → Confirmed" in page and "confirmed" not in page
