"""The admin outbox page (labels, reasons, retry, no message text) and the quiet staff inbox."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from clinic_fixtures import csrf_of

from builder.system_tables import inbox, outbox

NOW = dt.datetime(2026, 3, 2, 2, 0)


def _outbox_row(engine, key: str, status: str, record_id: int, **values) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            outbox.insert().values(
                key=key,
                automation="appointment_reminder",
                channel="sms",
                template="appointment_reminder",
                entity="appointment",
                record_id=record_id,
                recipient="patient",
                status=status,
                attempts=values.pop("attempts", 0),
                next_attempt_at=NOW,
                created_at=NOW,
                **values,
            )
        )
        return result.inserted_primary_key[0]


@pytest.fixture
def rows(clinic):
    engine = clinic.runtime.engine
    appointment = clinic.data["appointments"][0]["id"]
    return {
        "dead": _outbox_row(engine, "k-dead", "dead", appointment, attempts=5, reason="gateway 500 (after 5 attempts)"),
        "skipped": _outbox_row(engine, "k-skip", "skipped", appointment, reason="no consent (consent_sms)"),
        "sent": _outbox_row(engine, "k-sent", "sent", appointment, attempts=1, sent_at=NOW),
    }


def test_outbox_page_shows_labels_reasons_and_no_message_text(clinic, rows):
    page = clinic.login("admin").get("/outbox")
    assert page.status_code == 200
    html = page.text
    for text in ("Given up", "Skipped", "Sent", "no consent (consent_sms)", "gateway 500 (after 5 attempts)"):
        assert text in html
    assert "Appointment reminder" in html  # the notification's title, not its code
    assert f'href="/records/appointment/{clinic.data["appointments"][0]["id"]}"' in html
    assert "Wang Fang" not in html and "13800130000" not in html  # no patient data, no message body
    only_dead = clinic.login("admin").get("/outbox?status=dead").text
    assert "gateway 500" in only_dead and "no consent" not in only_dead


def test_outbox_is_for_admins_only(clinic, rows):
    assert clinic.login("doctor").get("/outbox").status_code == 403
    assert clinic.anonymous().get("/outbox").status_code in (302, 303)
    doctor = clinic.login("doctor")
    csrf = csrf_of(doctor.get("/").text)
    assert doctor.post(f"/outbox/{rows['dead']}/retry", data={"csrf_token": csrf}).status_code == 403


def test_admin_retries_a_dead_row(clinic, rows):
    admin = clinic.login("admin")
    csrf = csrf_of(admin.get("/outbox").text)
    assert admin.post(f"/outbox/{rows['dead']}/retry", data={"csrf_token": csrf}).status_code == 303
    assert admin.post(f"/outbox/{rows['sent']}/retry", data={"csrf_token": csrf}).status_code == 303
    with clinic.runtime.engine.connect() as conn:
        found = dict(conn.execute(sa.select(outbox.c.key, outbox.c.status)).all())
    assert found["k-dead"] == "pending" and found["k-sent"] == "sent"  # a sent row is never sent again


def _inbox_row(engine, user_id: int, key: str, title: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            inbox.insert().values(
                key=key,
                user_id=user_id,
                title=title,
                body="150/95 mmHg",
                entity="vital_reading",
                record_id=1,
                created_at=NOW,
            )
        )


def test_inbox_badge_list_and_mark_read(clinic):
    doctor, doctor2 = clinic.actors["doctor"].id, clinic.actors["doctor2"].id
    _inbox_row(clinic.runtime.engine, doctor, "a", "High blood pressure: Wang Fang")
    _inbox_row(clinic.runtime.engine, doctor, "b", "Overdue follow-up")
    _inbox_row(clinic.runtime.engine, doctor2, "a", "For the other doctor")
    client = clinic.login("doctor")
    home = client.get("/").text
    assert 'class="badge" aria-label="2 unread">2</span>' in home
    page = client.get("/inbox").text
    assert "High blood pressure: Wang Fang" in page and "For the other doctor" not in page
    assert "<script" not in page.split("<main", 1)[1]  # quiet: no pop-up code
    with clinic.runtime.engine.connect() as conn:
        ids = dict(conn.execute(sa.select(inbox.c.user_id, inbox.c.id).where(inbox.c.key == "a")).all())
    csrf = csrf_of(page)
    assert client.post(f"/inbox/{ids[doctor2]}/read", data={"csrf_token": csrf}).status_code == 303  # not theirs
    assert client.post(f"/inbox/{ids[doctor]}/read", data={"csrf_token": csrf}).status_code == 303
    assert 'aria-label="1 unread">1</span>' in client.get("/").text
    client.post("/inbox/read", data={"csrf_token": csrf})
    assert ' unread"' not in client.get("/").text  # no inbox badge (the doctor's "My tasks" has its own)
    assert 'aria-label="1 unread">1</span>' in clinic.login("doctor2").get("/").text  # theirs untouched


def test_a_record_page_shows_its_messages_with_labels_and_reasons(clinic, rows):
    appointment = clinic.data["appointments"][0]["id"]
    page = clinic.login("front_desk").get(f"/records/appointment/{appointment}").text
    html = page[page.index('id="messages"') : page.index("</section>", page.index('id="messages"'))]
    for text in ("Appointment reminder", "Given up", "Skipped", "Sent"):
        assert text in html
    assert ">dead<" not in html and ">skipped<" not in html and "appointment_reminder" not in html
    assert "consent" not in html  # the reason would tell the patient's consent: admins only
    admin = clinic.login("admin").get(f"/records/appointment/{appointment}").text
    assert "no consent (consent_sms)" in admin[admin.index('id="messages"') :]
    other = clinic.data["appointments"][1]["id"]
    assert 'id="messages"' not in clinic.login("front_desk").get(f"/records/appointment/{other}").text


def test_viewing_the_outbox_and_an_inbox_is_audited_with_the_records_shown(clinic, rows):
    from builder.system_tables import audit

    appointment = clinic.data["appointments"][0]["id"]
    clinic.login("admin").get("/outbox")
    doctor = clinic.actors["doctor"].id
    _inbox_row(clinic.runtime.engine, doctor, "a", "High blood pressure: Wang Fang")
    clinic.login("doctor").get("/inbox")
    clinic.login("doctor2").get("/inbox")  # an empty inbox shows nobody's data: no entry
    with clinic.runtime.engine.connect() as conn:
        entries = conn.execute(
            sa.select(audit.c.actor, audit.c.action, audit.c.entity, audit.c.detail)
            .where(audit.c.action.in_(("view_outbox", "view_inbox")))
            .order_by(audit.c.id)
        ).all()
    assert [(e.actor, e.action, e.entity) for e in entries] == [
        ("admin", "view_outbox", "appointment"),
        ("doctor", "view_inbox", "vital_reading"),
    ]
    assert json.loads(entries[0].detail) == {"rows": 3, "ids": [appointment] * 3}
    assert json.loads(entries[1].detail) == {"rows": 1, "ids": [1]}
    trail = clinic.login("admin").get("/audit").text
    assert ">Viewed the outbox<" in trail and ">Viewed the inbox<" in trail  # labels, not the codes
