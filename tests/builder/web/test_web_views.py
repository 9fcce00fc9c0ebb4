"""Calendar and board views: contents within the viewer's rights, and moves written through the record service.

The moves are posted exactly as static/views.js posts them after a drag (`Accept:
application/json`) and as the no-script forms post them; the blueprint's own rules
decide (the clinic's overlap rule refuses a double booking with its message, a stale
version is a conflict, a board move is the workflow transition from/to those states).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from clinic_fixtures import csrf_of

from builder.system_tables import workflow_history

JSON = {"Accept": "application/json"}
CALENDAR = "/records/appointment/calendar"


def columns(html: str) -> dict[str, str]:
    """{column heading: its HTML} of a calendar or board page."""
    found = re.findall(r'<h2 id="(?:col|board)-\d+" class="(?:cal|board)-head">(.*?)</h2>(.*?)</section>', html, re.S)
    return {re.sub(r"\s+\d+$", "", re.sub(r"<[^>]+>", "", head).strip()): body for head, body in found}


def move(client, record: dict, page: str, **fields) -> object:
    data = {"csrf_token": csrf_of(page), "version": str(record["version"]), **fields}
    return client.post(f"{CALENDAR}/{record['id']}/move", data=data, headers=JSON)


def test_a_day_has_a_column_per_doctor_with_its_appointments_labelled(clinic):
    page = clinic.login("front_desk").get(f"{CALENDAR}?day=2026-03-01")
    assert page.status_code == 200, page.text
    cols = columns(page.text)
    assert list(cols)[:2] == ["Dr. Li", "Dr. Zhao"]
    assert "Wang Fang" in cols["Dr. Li"] and "09:00" in cols["Dr. Li"]
    assert "Wang Fang" not in cols["Dr. Zhao"] and "Nothing booked." in cols["Dr. Zhao"]
    assert 'data-color="amber">Requested<' in cols["Dr. Li"]  # the workflow's label and colour, not `requested`
    first = clinic.data["appointments"][0]
    link = f"{CALENDAR}/{first['id']}/move?day=2026-03-01&amp;mode=day"
    assert f'href="{link}">Move to…<' in page.text
    form = clinic.login("front_desk").get(link.replace("&amp;", "&"))
    assert form.status_code == 200 and 'name="group"' in form.text and ">Dr. Zhao<" in form.text
    assert 'value="2026-03-01T09:00"' in form.text


def test_a_week_is_seven_days_from_the_day_asked_and_today_first_by_default(clinic):
    client = clinic.login("front_desk")
    week = client.get(f"{CALENDAR}?day=2026-03-01&mode=week")
    cols = columns(week.text)
    assert len(cols) == 7 and next(iter(cols)).startswith("Sun 03-01")
    assert [
        sum(name in body for name in ("Wang Fang", "Zhang Wei", "Liu Yang", "Chen Jing")) for body in cols.values()
    ] == [
        1,
        1,
        1,
        1,
        0,
        0,
        0,
    ]
    today = clinic.runtime.records.clock().date()
    default = client.get(f"{CALENDAR}?mode=week")
    assert next(iter(columns(default.text))).endswith(f"{today.strftime('%m-%d')} · Today")
    for bad in ("yesterday", "9999-12-31", "0001-01-01", "2026-02-30"):
        assert client.get(f"{CALENDAR}?day={bad}&mode=week").status_code == 400


def test_a_doctor_sees_only_their_own_appointments_and_cannot_move_them(clinic):
    doctor = clinic.login("doctor")
    week = doctor.get(f"{CALENDAR}?day=2026-03-01&mode=week")
    assert week.status_code == 200
    assert "Wang Fang" in week.text and "Liu Yang" in week.text
    assert "Zhang Wei" not in week.text and "Chen Jing" not in week.text
    assert "Move to…" not in week.text  # their role may not write starts_at
    assert doctor.get(f"{CALENDAR}/{clinic.data['appointments'][0]['id']}/move").status_code == 403
    mine = clinic.data["appointments"][0]
    refused = move(doctor, mine, week.text, starts_at="2026-03-01T11:00")
    assert refused.status_code in (403, 422) and refused.json()["ok"] is False
    assert clinic.login("analyst").get(CALENDAR).status_code in (403, 404)


def test_a_drag_to_a_free_slot_moves_the_appointment_and_to_a_booked_one_is_refused_with_the_rule(clinic):
    desk = clinic.login("front_desk")
    page = desk.get(f"{CALENDAR}?day=2026-03-02").text
    first, second, fourth = (clinic.data["appointments"][i] for i in (0, 1, 3))
    li, zhao = (str(s["id"]) for s in clinic.data["staff"])
    done = move(desk, first, page, starts_at="2026-03-02T11:00", group=li)
    assert done.status_code == 200 and done.json() == {"ok": True, "id": first["id"], "version": first["version"] + 1}
    stored = clinic.api("admin").get(f"/api/appointment/{first['id']}").json()
    assert stored["starts_at"].startswith("2026-03-02T11:00")
    clash = move(desk, fourth, page, starts_at="2026-03-02T09:10", group=zhao)  # Dr. Zhao sees Zhang Wei at 09:00
    assert clash.status_code == 422
    assert clash.json() == {"ok": False, "errors": ["Starts at: The doctor already has an appointment at that time"]}
    assert clinic.api("admin").get(f"/api/appointment/{fourth['id']}").json()["starts_at"].startswith("2026-03-04")
    stale = move(desk, first, page, starts_at="2026-03-02T14:00", group=li)  # the version read before the move
    assert stale.status_code == 409 and stale.json()["ok"] is False
    other_doctor = move(desk, {**second, "version": second["version"]}, page, starts_at="2026-03-02T11:00", group=li)
    assert other_doctor.status_code == 422  # Dr. Li now has Wang Fang at 11:00


def test_without_script_the_move_form_redirects_back_or_shows_the_reason_on_the_calendar(clinic):
    desk = clinic.login("front_desk")
    page = desk.get(f"{CALENDAR}?day=2026-03-04").text
    fourth = clinic.data["appointments"][3]
    zhao = str(clinic.data["staff"][1]["id"])
    back = f"{CALENDAR}?day=2026-03-04&mode=day"
    data = {"csrf_token": csrf_of(page), "version": str(fourth["version"]), "back": back, "group": zhao}
    url = f"{CALENDAR}/{fourth['id']}/move?day=2026-03-04&mode=day"
    refused = desk.post(url, data={**data, "starts_at": "2026-03-02T09:00"})
    assert refused.status_code == 422
    assert "The doctor already has an appointment at that time" in refused.text
    assert 'class="cal-move-form"' in refused.text and 'value="2026-03-02T09:00"' in refused.text  # as typed
    done = desk.post(url, data={**data, "starts_at": "2026-03-04T15:00"})
    assert done.status_code == 303 and done.headers["location"] == f"{back}&moved={fourth['id']}"
    assert "15:00" in desk.get(back).text


def test_calendar_labels_are_chinese_for_a_chinese_user(clinic):
    client = clinic.login("front_desk")
    home = client.get("/")
    client.post("/locale", data={"csrf_token": csrf_of(home.text), "locale": "zh-CN", "next": "/"})
    page = client.get(f"{CALENDAR}?day=2026-03-01")
    assert "待确认" in page.text and "移动到…" in page.text and ">requested<" not in page.text
    assert "待确认" in client.get(f"{CALENDAR}/{clinic.data['appointments'][0]['id']}/move").text
    week = client.get(f"{CALENDAR}?day=2026-03-01&mode=week")
    assert "周日 03-01" in week.text
    nurse = clinic.login("nurse")
    nurse.post("/locale", data={"csrf_token": csrf_of(nurse.get("/").text), "locale": "zh-CN", "next": "/"})
    board = nurse.get("/records/follow_up/kanban")
    text = board.text
    assert "待随访" in text and "已完成" in text and ">open<" not in text and ">done<" not in text


BOARD = "/records/follow_up/kanban"


def board_move(client, record_id: int, version: int, to: str, page: str):
    data = {"csrf_token": csrf_of(page), "version": str(version), "to": to}
    return client.post(f"{BOARD}/{record_id}/move", data=data, headers=JSON)


def test_the_board_has_a_column_per_state_with_counts_and_cards(clinic):
    page = clinic.login("nurse").get(BOARD)
    assert page.status_code == 200, page.text
    cols = columns(page.text)
    assert list(cols) == ["Open", "Done", "Unreachable"]
    assert "Wang Fang" in cols["Open"] and "2026-03-10" in cols["Open"]
    assert re.search(r'class="badge">1<', page.text) and "Move to Done" in cols["Open"]
    assert clinic.login("analyst").get(BOARD).status_code in (403, 404)


def test_a_board_move_is_the_workflow_transition_or_refused_with_the_reason(clinic):
    nurse = clinic.login("nurse")
    page = nurse.get(BOARD).text
    follow_up = clinic.data["follow_up"]
    needs_outcome = board_move(nurse, follow_up["id"], follow_up["version"], "done", page)
    assert needs_outcome.status_code == 422 and needs_outcome.json()["ok"] is False  # `done` requires an outcome
    guarded = board_move(nurse, follow_up["id"], follow_up["version"], "unreachable", page)
    assert guarded.status_code == 422
    assert guarded.json()["errors"] == ["Not possible yet: a condition of this move is not met."]
    admin = clinic.api("admin")
    current = admin.get(f"/api/follow_up/{follow_up['id']}").json()
    written = admin.patch(f"/api/follow_up/{follow_up['id']}", json={"version": current["version"], "outcome": "BP ok"})
    assert written.status_code == 200, written.text
    moved = board_move(nurse, follow_up["id"], written.json()["version"], "done", page)
    assert moved.status_code == 200 and moved.json()["ok"] is True, moved.text
    with clinic.runtime.engine.connect() as conn:
        steps = conn.execute(
            sa.select(workflow_history.c.transition).where(workflow_history.c.record_id == follow_up["id"])
        ).scalars()
        assert list(steps) == ["done"]
    back = board_move(nurse, follow_up["id"], moved.json()["version"], "open", page)
    assert back.status_code == 422
    assert back.json()["errors"] == ["Status: No step of the workflow leads from “Done” to “Open”."]
    after = columns(nurse.get(BOARD).text)
    assert "Wang Fang" in after["Done"] and "Wang Fang" not in after["Open"]


def test_a_board_move_without_script_redirects_back(clinic):
    nurse = clinic.login("nurse")
    page = nurse.get(BOARD).text
    follow_up = clinic.data["follow_up"]
    data = {"csrf_token": csrf_of(page), "version": str(follow_up["version"]), "to": "unreachable"}
    refused = nurse.post(f"{BOARD}/{follow_up['id']}/move", data=data)
    assert refused.status_code == 422 and "a condition of this move is not met" in refused.text
    assert 'class="board"' in refused.text
