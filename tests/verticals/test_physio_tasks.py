"""'My tasks' in the physio vertical: its `tasks: {}` infers the therapist as assignee and the start as due.

Both databases; the project is migrated with `crm migrate` and served like `crm serve`.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from builder.system_tables import audit

PAST = "2020-03-03T09:00:00"  # a Tuesday, long gone: overdue
SOON = "2099-03-03T09:00:00"  # Tuesdays to come
LATER = "2099-03-10T09:00:00"


def book(served) -> dict[str, int]:
    """Sessions: two for therapist A (one long past), one for B; {name: id}."""
    admin, reception = served.api("admin"), served.api("reception")
    therapists = {
        account: admin.post("/api/therapist", json={"display_name": name, "account": served.user_ids[account]}).json()
        for account, name in (("ther_a", "Li Na"), ("ther_b", "Zhou Bo"))
    }
    client = reception.post(
        "/api/client", json={"full_name": "Anna", "mobile": "13912345678", "therapist": therapists["ther_a"]["id"]}
    ).json()
    sessions = {}
    for name, account, starts in (("later", "ther_a", LATER), ("past", "ther_a", PAST), ("b", "ther_b", SOON)):
        made = reception.post(
            "/api/session",
            json={"client": client["id"], "therapist": therapists[account]["id"], "starts_at": starts},
        )
        assert made.status_code == 201, made.text
        sessions[name] = made.json()["id"]
    return sessions


def test_each_therapist_sees_their_booked_sessions_overdue_first_with_their_moves(served):
    sessions = book(served)
    body = served.login("ther_a").get("/api/tasks").json()
    assert [(t["entity"], t["id"], t["overdue"], t["assigned"]) for t in body["items"]] == [
        ("session", sessions["past"], True, True),
        ("session", sessions["later"], False, True),
    ]
    past, later = body["items"]
    assert [(m["name"], m["allowed"]) for m in past["transitions"]] == [("attend", True), ("miss", True)]
    assert [(m["name"], m["allowed"], m["refusal"]) for m in later["transitions"]] == [
        ("attend", True, None),
        ("miss", False, "guard"),  # not before it starts
    ]
    assert [t["id"] for t in served.login("ther_b").get("/api/tasks").json()["items"]] == [sessions["b"]]
    assert served.login("reception").get("/api/tasks").json()["total"] == 0  # every session has its therapist


def test_reading_the_tasks_is_audited_as_one_list_of_sessions(served):
    sessions = book(served)
    served.login("ther_a").get("/tasks")
    with served.runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(audit).where(audit.c.action == "list", audit.c.entity == "session")).all()
    [entry] = [r for r in rows if r.actor == "ther_a"]
    detail = json.loads(entry.detail)
    assert detail["ids"] == [sessions["past"], sessions["later"]] and "notes" in detail["fields"]  # PHI read


def test_the_page_shows_labels_and_a_move_takes_the_session_off_the_list(served):
    sessions = book(served)
    browser = served.login("ther_a")
    page = browser.get("/tasks")
    assert ">Booked<" in page.text and "Overdue" in page.text and ">booked<" not in page.text
    assert 'aria-label="2 open"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)
    moved = browser.post(
        f"/records/session/{sessions['past']}/transitions/attend",
        data={"csrf_token": token, "version": "1", "next": "/tasks"},
    )
    assert moved.headers["location"] == "/tasks?moved=1"
    after = browser.get("/tasks").text
    assert f"/records/session/{sessions['past']}/transitions" not in after and 'aria-label="1 open"' in after
    browser.post("/locale", data={"csrf_token": token, "locale": "zh-CN", "next": "/tasks"})
    chinese = browser.get("/tasks").text
    assert "我的任务" in chinese and "已预约" in chinese and "到诊" in chinese and "Booked" not in chinese
