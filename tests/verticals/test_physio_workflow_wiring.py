"""The physio vertical's session flow, wired: moves through the API and pages, its reminder planned and cancelled.

Both databases; the project is migrated with `crm migrate` and served like `crm serve`.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from builder.system_tables import timers, workflow_history

TUESDAY_9 = "2027-03-02T09:00:00"


def rows(served, table: sa.Table) -> list:
    with served.runtime.engine.connect() as conn:
        return list(conn.execute(sa.select(table).order_by(table.c.id)).all())


def booked(served) -> dict:
    admin, reception = served.api("admin"), served.api("reception")
    therapist = admin.post("/api/therapist", json={"display_name": "Li Na", "account": served.user_ids["ther_a"]})
    client = reception.post(
        "/api/client",
        json={"full_name": "Anna", "mobile": "13912345678", "sms_ok": True, "therapist": therapist.json()["id"]},
    )
    assert client.status_code == 201, client.text
    session = reception.post(
        "/api/session",
        json={"client": client.json()["id"], "therapist": therapist.json()["id"], "starts_at": TUESDAY_9},
    )
    assert session.status_code == 201, session.text
    return session.json()


def test_a_booked_session_gets_its_reminder_and_cancelling_cancels_it(served):
    session = booked(served)
    assert session["status"] == "booked"
    [reminder] = rows(served, timers)
    assert (reminder.automation, reminder.status, reminder.due_at) == (
        "session_reminder",
        "planned",
        dt.datetime(2027, 3, 1, 1, 0),  # 24 h before, in UTC
    )
    url = f"/api/session/{session['id']}/transitions/cancel"
    assert served.api("ther_a").post(url, json={"version": 1}).status_code == 403  # therapists do not cancel
    done = served.api("reception").post(url, json={"version": 1, "comment": "client ill"})
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    [reminder] = rows(served, timers)
    assert reminder.status == "cancelled"
    [entry] = rows(served, workflow_history)
    assert (entry.transition, entry.actor, entry.comment) == ("cancel", "token:test-reception", "client ill")


def test_only_the_sessions_own_therapist_may_record_attendance(served):
    session = booked(served)
    url = f"/api/session/{session['id']}/transitions/attend"
    assert served.api("ther_b").post(url, json={"version": 1}).status_code == 404  # not their session: hidden
    patched = served.api("ther_a").patch(f"/api/session/{session['id']}", json={"version": 1, "status": "attended"})
    assert patched.status_code == 422  # the state moves by transitions only
    page = served.login("ther_a").get(f"/records/session/{session['id']}")
    assert f"/records/session/{session['id']}/transitions/attend" in page.text and ">Attended<" in page.text
    assert served.api("ther_a").post(url, json={"version": 1}).json()["status"] == "attended"
