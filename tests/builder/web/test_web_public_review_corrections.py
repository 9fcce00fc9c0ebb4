"""A reviewer corrects a held public submission before accepting it, on SQLite and PostgreSQL.

The correction uses the form's own widgets and the record service's checks as the
reviewer; it is audited like a record change (old and new values of ordinary fields,
only the names of sensitive ones); the values as sent stay beside it in the queue until
the submission is accepted, which creates the record from the corrected values.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from clinic_fixtures import csrf_of

from builder.records import SYSTEM
from builder.system_tables import public_submissions

EN = {"accept-language": "en"}
PHONE = "13911112222"


def submit_intake(clinic, **values: str) -> int:
    anonymous = clinic._client(EN)
    page = anonymous.get("/f/clinic/public_intake")
    sent = anonymous.post("/f/clinic/public_intake", data={**values, "csrf_token": csrf_of(page.text)})
    assert sent.status_code == 303, sent.text
    with clinic.runtime.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(public_submissions.c.id))).scalar_one()


def held(clinic, submission_id: int):
    with clinic.runtime.engine.connect() as conn:
        return conn.execute(sa.select(public_submissions).where(public_submissions.c.id == submission_id)).one()


def value_of(html: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', html
    )
    assert found, name
    return found.group(1)


def test_a_reviewer_corrects_a_submission_keeps_the_original_in_sight_and_accepts_the_correction(clinic):
    submission = submit_intake(clinic, name="Sun Lii", gender="female", phone=PHONE, birth_date="1990-02-03")
    front_desk = clinic.login("front_desk")
    queue = front_desk.get("/review")
    assert f'href="/review/{submission}/correct">Correct</a>' in queue.text

    page = front_desk.get(f"/review/{submission}/correct")
    assert page.status_code == 200
    assert value_of(page.text, "name") == "Sun Lii" and value_of(page.text, "birth_date") == "1990-02-03"
    assert value_of(page.text, "phone") == "139****2222"  # the front desk sees the phone masked, here too
    assert PHONE not in page.text
    assert '<option value="female" selected' in page.text  # the form's own widgets

    token = csrf_of(page.text)
    form = {"name": "Sun Li", "gender": "female", "phone": "139****2222", "csrf_token": token}
    refused = front_desk.post(f"/review/{submission}/correct", data={**form, "birth_date": "2999-01-01"})
    assert refused.status_code == 422
    assert value_of(refused.text, "name") == "Sun Li" and value_of(refused.text, "birth_date") == "2999-01-01"
    assert clinic.audit("public_correct") == []
    before = held(clinic, submission).payload

    saved = front_desk.post(f"/review/{submission}/correct", data={**form, "birth_date": "1990-03-02"})
    assert saved.status_code == 303 and saved.headers["location"] == f"/review?done=corrected#submission-{submission}"
    row = held(clinic, submission)
    assert row.status == "pending" and row.payload != before
    assert row.payload.startswith("enc:") and "Sun Li" not in row.payload and PHONE not in row.payload

    entry = clinic.audit("public_correct")[-1]
    assert (entry.actor, entry.entity, entry.record_id) == ("front_desk", "patient", None)
    assert json.loads(entry.changes) == {"name": ["Sun Lii", "Sun Li"], "birth_date": ["1990-02-03", "1990-03-02"]}
    assert json.loads(entry.detail) == {"form": "public_intake", "submission": submission}

    queue = front_desk.get("/review?done=corrected").text
    assert "Corrected. Accept it to create the record." in queue and "Corrected by front_desk" in queue
    corrected, original = queue.split("As sent")
    assert "Sun Li<" in corrected and "1990-03-02" in corrected
    assert "Sun Lii" in original and "1990-02-03" in original  # the original stays in sight
    assert original.count('class="badge">changed<') == 2

    unchanged = front_desk.post(f"/review/{submission}/correct", data={**form, "birth_date": "1990-03-02"})
    assert unchanged.headers["location"] == f"/review?done=unchanged#submission-{submission}"
    assert len(clinic.audit("public_correct")) == 1

    accepted = front_desk.post(f"/review/{submission}/accept", data={"csrf_token": token})
    assert accepted.status_code == 303
    created = clinic.runtime.records.list(SYSTEM, "patient", q="Sun Li").items
    assert len(created) == 1
    record = clinic.runtime.records.get(SYSTEM, "patient", created[0]["id"])
    assert (record["name"], str(record["birth_date"]), record["phone"]) == ("Sun Li", "1990-03-02", "+86" + PHONE)
    assert record["created_by"] == "front_desk"
    assert (held(clinic, submission).status, held(clinic, submission).payload) == ("accepted", "")


def test_a_sensitive_correction_is_audited_by_name_only(clinic):
    submission = submit_intake(clinic, name="Qian Yu", phone=PHONE)
    admin = clinic.login("admin")
    page = admin.get(f"/review/{submission}/correct")
    assert value_of(page.text, "phone") == "139 1111 2222"  # admins see it whole
    saved = admin.post(
        f"/review/{submission}/correct",
        data={"name": "Qian Yu", "phone": "13922223333", "csrf_token": csrf_of(page.text)},
    )
    assert saved.status_code == 303
    entry = clinic.audit("public_correct")[-1]
    assert json.loads(entry.changes) == {"phone": "changed"}
    assert "2222" not in (entry.changes + entry.detail) and "3333" not in (entry.changes + entry.detail)
    queue = admin.get("/review").text
    assert "139 2222 3333" in queue.split("As sent")[0] and "139 1111 2222" in queue.split("As sent")[1]


def test_only_reviewers_correct_and_only_pending_submissions(clinic):
    submission = submit_intake(clinic, name="Zhou Min", phone=PHONE)
    doctor = clinic.login("doctor")
    assert doctor.get(f"/review/{submission}/correct").status_code == 403
    token = csrf_of(doctor.get("/").text)
    assert doctor.post(f"/review/{submission}/correct", data={"name": "X", "csrf_token": token}).status_code == 403
    front_desk = clinic.login("front_desk")
    token = csrf_of(front_desk.get("/review").text)
    assert front_desk.post(f"/review/{submission}/reject", data={"csrf_token": token}).status_code == 303
    assert front_desk.get(f"/review/{submission}/correct").status_code == 404
    gone = front_desk.post(f"/review/{submission}/correct", data={"name": "X", "csrf_token": token})
    assert gone.status_code == 404 and clinic.audit("public_correct") == []
