"""Patients' own forms through the real app (security layer included), on SQLite and PostgreSQL.

A doctor makes a home-reading link from a patient's page; the patient opens it with no
account and sends a reading; the link's checks (expiry, single use, tampering,
revocation), the limits per address and per link, the honeypot, the public actor's
narrow rights, what the page shows, the audit trail and the review queue of the
clinic-wide intake are each held to docs/public-forms.md.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa
from clinic_fixtures import SECRET, csrf_of

from builder.public_forms.actor import public_actor
from builder.records import SYSTEM, NotFound, PermissionDenied, ValidationFailed
from builder.system_tables import public_submissions, public_tokens

EN = {"accept-language": "en"}
INPUTS = re.compile(r'<(?:input|select|textarea)[^>]*\bname="([a-z_]+)"')
LINK = re.compile(r'id="public-link"[^>]*>https?://[^/]+(/f/[^<]+)<')


def make_link(
    clinic, user: str = "doctor", patient_index: int = 0, form: str = "home_reading", entity: str = "patient"
) -> str:
    """The path of a new link made from the record's page (a patient's, by default) as `user`."""
    browser = clinic.login(user)
    record = clinic.data["patients"][patient_index]["id"] if entity == "patient" else clinic.data[entity]["id"]
    page = browser.get(f"/records/{entity}/{record}")
    assert page.status_code == 200
    made = browser.post(
        f"/records/{entity}/{record}/public-links", data={"form": form, "csrf_token": csrf_of(page.text)}
    )
    assert made.status_code == 200, made.text
    assert "<svg" in made.text and "QR code of the link" in made.text  # the QR code, inline
    return LINK.search(made.text).group(1)


def anon(clinic):
    """A browser with no account, in English (the clinic's first language is Chinese)."""
    return clinic._client({"accept-language": "en"})


def desk(clinic):
    return clinic.app.state.public_desk


def readings(clinic) -> list[dict]:
    return clinic.runtime.records.list(SYSTEM, "vital_reading", limit=100, sort="id").items


def send(client, path: str, **values: str):
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={**values, "csrf_token": csrf_of(page.text)})


def single_use(clinic, patient_index: int = 0, now: dt.datetime | None = None) -> str:
    """A single-use link to the reading form (the form itself is reusable), issued like the page does."""
    form = desk(clinic).form("home_reading")
    once = dataclasses.replace(form, public=form.public.model_copy(update={"reuse": False}))
    token, _ = desk(clinic).tokens.issue(once, clinic.data["patients"][patient_index]["id"], "doctor", now=now)
    return f"/f/{token}"


# -- the happy path --------------------------------------------------------------------
def test_a_patient_sends_a_reading_from_their_link_as_the_public_actor(clinic):
    path = make_link(clinic)
    before = len(readings(clinic))
    patient = clinic.data["patients"][0]
    sent = send(anon(clinic), path, systolic="142", diastolic="91")
    assert sent.status_code == 303 and sent.headers["location"].startswith("/f/thanks/home_reading")
    thanks = anon(clinic).get(sent.headers["location"])
    assert "Your reading has been sent to the clinic" in thanks.text
    rows = readings(clinic)
    assert len(rows) == before + 1
    created = rows[-1]
    assert created["patient"] == patient["id"] and created["systolic"] == 142 and created["risk"] == "elevated"
    assert created["created_by"] == "public" and created["taken_at"] is not None  # the default filled the time
    link, create, submit = clinic.audit("public_link", "create", "public_submit")[-3:]
    assert (link.actor, link.action, link.record_id) == ("doctor", "public_link", patient["id"])
    assert (create.actor, create.role, create.entity, create.record_id) == (
        "public",
        "public",
        "vital_reading",
        created["id"],
    )
    assert (
        re.fullmatch(r"[0-9a-f]{32}", create.address) and create.address == submit.address
    )  # hashed, never the address
    assert json.loads(submit.detail) == {"form": "home_reading", "token": json.loads(link.detail)["token"]}


def test_the_page_shows_the_forms_fields_and_nothing_of_the_patient(clinic):
    path = make_link(clinic)
    page = anon(clinic).get(path, headers={"accept-language": "en"})
    patient = clinic.runtime.records.get(SYSTEM, "patient", clinic.data["patients"][0]["id"])
    fields = set(INPUTS.findall(page.text)) - {"csrf_token"}
    assert fields == {"systolic", "diastolic", "glucose", "glucose_context", "taken_at"}
    for secret in (patient["name"], "Wang", patient["phone"][-4:], "1380013", "penicillin", "/records/", "••"):
        assert secret not in page.text
    assert "large-text" in page.text and 'name="viewport"' in page.text  # large text by default, on a phone
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-robots-tag"] == "noindex"


def test_the_page_speaks_the_patients_language(clinic):
    path = make_link(clinic)
    anonymous = clinic.anonymous()
    assert "收缩压" in anonymous.get(path, headers={"accept-language": "zh-CN,zh;q=0.9"}).text
    english = anonymous.get(path + "?lang=en", headers={"accept-language": "zh-CN"})
    assert "Systolic (mmHg)" in english.text and 'lang="en"' in english.text
    assert "?lang=zh-CN" in english.text  # the switch to the other language
    assert "large-text" not in anonymous.get(path + "?lang=en&text=normal").text.split("<body")[1][:40]


# -- links refused ---------------------------------------------------------------------
def test_a_single_use_link_works_once(clinic):
    path = single_use(clinic)
    anonymous = anon(clinic)
    csrf = csrf_of(anonymous.get(path).text)
    assert anonymous.post(path, data={"systolic": "120", "diastolic": "80", "csrf_token": csrf}).status_code == 303
    again = anonymous.get(path)
    assert again.status_code == 410 and "already been used" in again.text
    assert "Traceback" not in again.text
    replay = anonymous.post(path, data={"systolic": "120", "csrf_token": csrf})
    assert replay.status_code == 410


def test_a_refused_submission_keeps_what_was_typed_and_the_link_usable(clinic):
    path = single_use(clinic)
    anonymous = anon(clinic)
    refused = send(anonymous, path, systolic="80", diastolic="120", glucose="6.1")
    assert refused.status_code == 422
    assert "Diastolic pressure must be lower than systolic" in refused.text
    assert 'value="80"' in refused.text and 'value="120"' in refused.text and 'value="6.1"' in refused.text
    assert send(anonymous, path, systolic="120", diastolic="80").status_code == 303  # not spent by the refusal


def test_an_expired_link_is_refused_kindly(clinic):
    before = len(readings(clinic))
    path = single_use(clinic, now=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=31))
    anonymous = anon(clinic)
    csrf = csrf_of(anonymous.get("/f/clinic/public_intake").text)  # the session's token, from a form page
    page = anonymous.get(path)
    assert page.status_code == 410 and "expired" in page.text and "Traceback" not in page.text
    posted = anonymous.post(path, data={"systolic": "120", "csrf_token": csrf})
    assert posted.status_code == 410 and len(readings(clinic)) == before


def test_tampered_forged_and_garbage_links_are_refused(clinic):
    path = make_link(clinic)
    payload, mac = path.removeprefix("/f/").split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["r"] = clinic.data["patients"][1]["id"]  # someone else's record, same signature
    other = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
    unrecorded = desk(clinic).tokens.signer.sign("home_reading", 1, dt.datetime(2099, 1, 1))  # never issued
    anonymous = anon(clinic)
    for bad in (
        f"/f/{other}.{mac}",
        f"/f/{payload}.{mac[:-2]}AA",
        f"/f/{unrecorded}",
        "/f/nonsense",
        "/f/" + "x" * 500,
    ):
        page = anonymous.get(bad)
        assert page.status_code == 403, bad
        assert "not valid" in page.text and "Traceback" not in page.text


def test_staff_revoke_a_link(clinic):
    path = make_link(clinic)
    browser = clinic.login("doctor")
    patient = clinic.data["patients"][0]["id"]
    page = browser.get(f"/records/patient/{patient}")
    token_id = int(re.search(r"/public-links/(\d+)/revoke", page.text).group(1))
    revoked = browser.post(
        f"/records/patient/{patient}/public-links/{token_id}/revoke", data={"csrf_token": csrf_of(page.text)}
    )
    assert revoked.status_code == 303
    assert "revoked" in browser.get(f"/records/patient/{patient}").text
    refused = anon(clinic).get(path)
    assert refused.status_code == 410 and "withdrawn" in refused.text
    assert clinic.audit("public_revoke")[-1].actor == "doctor"


def test_only_roles_the_form_allows_make_links(clinic):
    patient = clinic.data["patients"][0]["id"]
    front_desk = clinic.login("front_desk")  # may not create vital readings, so may not send the form
    page = front_desk.get(f"/records/patient/{patient}")
    assert page.status_code == 200 and "Send form link" not in page.text
    made = front_desk.post(
        f"/records/patient/{patient}/public-links", data={"form": "home_reading", "csrf_token": csrf_of(page.text)}
    )
    assert made.status_code == 403
    with clinic.runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(public_tokens)).scalar_one() == 0


def test_a_patients_form_never_opens_without_a_token(clinic):
    page = anon(clinic).get("/f/clinic/home_reading")
    assert page.status_code == 404 and "no such form" in page.text
    assert anon(clinic).get("/f/clinic/nothing_here").status_code == 404


def test_a_post_without_the_csrf_token_is_refused(clinic):
    path = make_link(clinic)
    anonymous = anon(clinic)
    anonymous.get(path)
    assert anonymous.post(path, data={"systolic": "120"}).status_code == 403


# -- what the public actor may do -------------------------------------------------------
def test_extra_fields_and_ids_in_a_crafted_post_are_ignored(clinic):
    path = make_link(clinic)
    other = clinic.data["patients"][1]["id"]
    sent = send(
        anon(clinic),
        path,
        systolic="120",
        diastolic="80",
        patient=str(other),
        id="999",
        risk="high",
        created_by="admin",
        version="7",
    )
    assert sent.status_code == 303
    created = readings(clinic)[-1]
    assert created["patient"] == clinic.data["patients"][0]["id"] and created["risk"] == "normal"
    assert created["id"] != 999 and created["created_by"] == "public" and created["version"] == 1


def test_the_public_actor_may_do_exactly_what_the_form_maps(clinic):
    service = clinic.runtime.records
    form = desk(clinic).form("home_reading")
    bound = clinic.data["patients"][0]["id"]
    actor = public_actor(form, bound, "en", "hashed")
    for entity in ("visit", "vital_reading", "appointment", "staff"):
        with pytest.raises(PermissionDenied):
            service.list(actor, entity)
    # Of patients it may know only that the bound one exists (the link check needs that): no field at all.
    seen = service.list(actor, "patient").items
    assert [r["id"] for r in seen] == [bound] and not set(seen[0]) - {
        "id",
        "version",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    }
    with pytest.raises(PermissionDenied):
        service.create(actor, "patient", {"name": "Mallory", "phone": "13900000000"})
    with pytest.raises(ValidationFailed) as refused:  # a field the form does not offer
        service.create(actor, "vital_reading", {"patient": bound, "systolic": 120, "risk": "high"})
    assert {e.field for e in refused.value.errors} == {"risk"}
    with pytest.raises(ValidationFailed) as elsewhere:  # another patient than the token's
        service.create(actor, "vital_reading", {"patient": clinic.data["patients"][1]["id"], "systolic": 120})
    assert {e.code for e in elsewhere.value.errors} == {"invalid_link"}
    with pytest.raises(NotFound):  # no stored reading is visible to it, so none can be changed or deleted
        service.update(actor, "vital_reading", clinic.data["vital"]["id"], {"systolic": 100}, 1)
    with pytest.raises(PermissionDenied):
        service.delete(actor, "vital_reading", clinic.data["vital"]["id"])


# -- limits and bots --------------------------------------------------------------------
def served_with_limits(clinic, **limits: int):
    """The same clinic served again with `[public]` limits (a second process on the same database)."""
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    clinic.runtime.project.config["public"] = dict(limits)
    return create_app(clinic.runtime, SecuritySettings(secret_key=SECRET))


def test_submissions_per_link_are_limited(clinic):
    from starlette.testclient import TestClient

    app = served_with_limits(clinic, per_token=2, per_address=100)
    path = make_link(clinic)
    with TestClient(app, follow_redirects=False, headers=EN) as anonymous:
        assert send(anonymous, path, systolic="120", diastolic="80").status_code == 303
        assert send(anonymous, path, systolic="121", diastolic="80").status_code == 303
        third = send(anonymous, path, systolic="122", diastolic="80")
        assert third.status_code == 429 and "Too many" in third.text and int(third.headers["retry-after"]) > 0
    with TestClient(app, follow_redirects=False, headers=EN, client=("10.0.0.9", 4000)) as elsewhere:
        assert send(elsewhere, path, systolic="123", diastolic="80").status_code == 429  # the link, from anywhere
        assert send(elsewhere, make_link(clinic), systolic="123", diastolic="80").status_code == 303


def test_submissions_per_address_are_limited_across_processes(clinic):
    from starlette.testclient import TestClient

    first = served_with_limits(clinic, per_token=100, per_address=3)
    second = served_with_limits(clinic, per_token=100, per_address=3)  # another process, the same database
    with (
        TestClient(first, follow_redirects=False, headers=EN) as a,
        TestClient(second, follow_redirects=False, headers=EN) as b,
    ):
        assert send(a, "/f/clinic/public_intake", name="A", phone="13900000001").status_code == 303
        assert send(b, "/f/clinic/public_intake", name="B", phone="13900000002").status_code == 303
        assert send(a, make_link(clinic), systolic="120").status_code == 303
        assert send(b, "/f/clinic/public_intake", name="C", phone="13900000003").status_code == 429
    with TestClient(first, follow_redirects=False, headers=EN, client=("10.0.0.7", 4000)) as other:
        assert send(other, "/f/clinic/public_intake", name="D", phone="13900000004").status_code == 303


def test_the_honeypot_drops_a_bots_submission_silently(clinic):
    path = make_link(clinic)
    before = len(readings(clinic))
    sent = send(anon(clinic), path, systolic="120", diastolic="80", **{"contact-website": "http://spam"})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/f/thanks/")
    assert len(readings(clinic)) == before
    dropped = clinic.audit("public_submit")[-1]
    assert dropped.record_id is None and json.loads(dropped.detail)["dropped"] == "honeypot"


# -- the review queue --------------------------------------------------------------------
def pending_rows(clinic) -> list:
    with clinic.runtime.engine.connect() as conn:
        return conn.execute(sa.select(public_submissions).order_by(public_submissions.c.id)).all()


def test_a_clinic_intake_waits_for_review_encrypted_and_with_duplicates_flagged(clinic):
    existing = clinic.runtime.records.get(SYSTEM, "patient", clinic.data["patients"][1]["id"])
    patients = clinic.runtime.records.list(SYSTEM, "patient", limit=100).total
    anonymous = anon(clinic)
    form = anonymous.get("/f/clinic/public_intake?lang=en")
    assert form.status_code == 200 and set(INPUTS.findall(form.text)) - {"csrf_token"} == {
        "name",
        "gender",
        "birth_date",
        "phone",
    }
    # The same phone as a patient: the stranger is not told (no "already used"); the reviewer is.
    same_phone = send(anonymous, "/f/clinic/public_intake", name="Someone Else", phone=existing["phone"])
    assert same_phone.status_code == 303
    fresh = send(
        anonymous,
        "/f/clinic/public_intake",
        name="Sun Li",
        gender="female",
        phone="13911112222",
        birth_date="1990-02-03",
    )
    assert fresh.status_code == 303
    assert clinic.runtime.records.list(SYSTEM, "patient", limit=100).total == patients  # nothing created yet
    rows = pending_rows(clinic)
    assert [r.status for r in rows] == ["pending", "pending"]
    assert all(r.payload.startswith("enc:") and "1391111" not in r.payload and "Sun Li" not in r.payload for r in rows)

    front_desk = clinic.login("front_desk")
    assert 'href="/review"' in front_desk.get("/").text  # the header links the queue for reviewers
    queue = front_desk.get("/review")
    assert queue.status_code == 200
    assert "Someone Else" in queue.text and "Sun Li" in queue.text
    assert queue.text.count("Possible duplicate") == 1 and f"/records/patient/{existing['id']}" in queue.text
    assert "13911112222" not in queue.text  # front desk sees phones masked, here as on a record
    assert clinic.audit("view")[-1].actor == "front_desk"  # looking at the queue is audited

    # Accepting the duplicate is refused by the record service (the phone is unique); reject it instead.
    refused = front_desk.post(f"/review/{rows[0].id}/accept", data={"csrf_token": csrf_of(queue.text)})
    assert refused.status_code == 422 and "Phone" in refused.text
    assert front_desk.post(f"/review/{rows[0].id}/reject", data={"csrf_token": csrf_of(queue.text)}).status_code == 303
    accepted = front_desk.post(f"/review/{rows[1].id}/accept", data={"csrf_token": csrf_of(queue.text)})
    assert accepted.status_code == 303
    created = clinic.runtime.records.list(SYSTEM, "patient", q="Sun Li").items
    assert len(created) == 1 and created[0]["created_by"] == "front_desk" and created[0]["gender"] == "female"
    assert [(r.status, r.payload, r.decided_by) for r in pending_rows(clinic)] == [
        ("rejected", "", "front_desk"),
        ("accepted", "", "front_desk"),
    ]
    assert clinic.audit("public_accept")[-1].record_id == created[0]["id"]
    assert clinic.audit("public_reject")[-1].actor == "front_desk"
    assert "Nothing to review" in front_desk.get("/review").text


def test_only_reviewers_see_the_queue(clinic):
    send(anon(clinic), "/f/clinic/public_intake", name="Zhou Min", phone="13922223333")
    submission = pending_rows(clinic)[0].id
    doctor = clinic.login("doctor")
    assert doctor.get("/review").status_code == 403
    assert 'href="/review"' not in doctor.get("/").text
    page = doctor.get("/")
    assert doctor.post(f"/review/{submission}/accept", data={"csrf_token": csrf_of(page.text)}).status_code == 403
    assert anon(clinic).get("/review").status_code in (302, 303)  # to the sign-in page
    assert pending_rows(clinic)[0].status == "pending"


def test_a_clinic_intake_shows_errors_with_what_was_typed(clinic):
    refused = send(anon(clinic), "/f/clinic/public_intake", name="Wu", phone="12345", birth_date="2999-01-01")
    assert refused.status_code == 422 and 'value="Wu"' in refused.text and 'value="12345"' in refused.text
    assert pending_rows(clinic) == []


def test_a_clinic_form_without_review_creates_the_record_as_the_public_actor(clinic):
    public = desk(clinic)
    form = public.form("public_intake")
    direct = dataclasses.replace(form, public=form.public.model_copy(update={"review": False}))
    outcome = public.submit(direct, None, {"name": "Qian Yu", "phone": "13933334444", "stage": "vip"}, "en", "10.1.1.1")
    assert outcome.kind == "created" and pending_rows(clinic) == []
    created = clinic.runtime.records.get(SYSTEM, "patient", outcome.record_id)
    assert (created["name"], created["created_by"], created["stage"]) == (
        "Qian Yu",
        "public",
        "lead",
    )  # stage: not mapped
    entry = clinic.audit("public_submit")[-1]
    assert entry.record_id == outcome.record_id and entry.address == public.address_hash("10.1.1.1") != "10.1.1.1"


def test_a_nurse_sends_the_survey_of_a_visit_and_the_patient_answers_once(clinic):
    path = make_link(clinic, "nurse", form="visit_survey", entity="visit")
    anonymous = anon(clinic)
    page = anonymous.get(path)
    assert set(INPUTS.findall(page.text)) - {"csrf_token"} == {"score", "recommend", "comment"}
    assert "hypertension" not in page.text and "Amlodipine" not in page.text  # nothing of the visit
    assert (
        anonymous.post(
            path, data={"score": "4", "recommend": "true", "comment": "Quick", "csrf_token": csrf_of(page.text)}
        ).status_code
        == 303
    )
    answers = clinic.runtime.records.list(SYSTEM, "satisfaction", sort="-id", limit=1).items[0]
    assert (answers["visit"], answers["score"], answers["recommend"], answers["comment"]) == (
        clinic.data["visit"]["id"],
        4,
        True,
        "Quick",
    )
    assert anonymous.get(path).status_code == 410  # a survey is answered once
    assert (
        "Send form link: How was your visit?"
        not in clinic.login("doctor").get(f"/records/visit/{clinic.data['visit']['id']}").text
    )


def test_two_racing_submissions_spend_a_single_use_link_once(clinic):
    import threading

    public = desk(clinic)
    row = public.tokens.check(single_use(clinic).removeprefix("/f/"))
    start, results = threading.Barrier(4), []

    def claim() -> None:
        start.wait()
        results.append(public.tokens.claim(row))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, False, False, True]


def test_a_link_to_a_deleted_record_is_refused_kindly(clinic):
    service = clinic.runtime.records
    gone = service.create(SYSTEM, "patient", {"name": "Gone Soon", "phone": "13955556666"})
    form = desk(clinic).form("home_reading")
    token, _ = desk(clinic).tokens.issue(form, gone["id"], "doctor")
    anonymous = anon(clinic)
    page = anonymous.get(f"/f/{token}")
    service.delete(SYSTEM, "patient", gone["id"])
    sent = anonymous.post(f"/f/{token}", data={"systolic": "120", "csrf_token": csrf_of(page.text)})
    assert sent.status_code == 410 and "withdrawn" in sent.text


def test_the_audit_page_names_public_submissions_in_words(clinic):
    send(anon(clinic), make_link(clinic), systolic="120", diastolic="80")
    page = clinic.login("admin").get("/audit", headers=EN)
    assert page.status_code == 200
    assert "Public form submitted" in page.text and "Form link made" in page.text
    assert "<td>Public form</td>" in page.text  # the public actor's role, in words
    assert ">public_submit<" not in page.text


def test_duplicates_are_found_by_phone_resident_id_or_name_and_birth_date(clinic):
    review = desk(clinic).review
    first, second = clinic.data["patients"][0], clinic.data["patients"][1]
    found = review.duplicates("patient", {"id_number": "110105196005010022"})  # encrypted: matched by keyed hash
    assert [(d.record_id, d.fields) for d in found] == [(first["id"], ("id_number",))]
    found = review.duplicates("patient", {"name": "Zhang Wei", "birth_date": "1965-05-02", "phone": "13900009999"})
    assert [(d.record_id, d.fields) for d in found] == [(second["id"], ("name", "birth_date"))]
    assert review.duplicates("patient", {"name": "Zhang Wei", "birth_date": "1965-05-03"}) == []
    assert review.duplicates("patient", {"phone": "not a phone"}) == []  # matches nothing, never an error


def test_a_public_form_takes_no_big_bodies(clinic):
    anonymous = anon(clinic)
    csrf = csrf_of(anonymous.get("/f/clinic/public_intake").text)
    big = anonymous.post("/f/clinic/public_intake", data={"name": "x" * 200_000, "csrf_token": csrf})
    assert big.status_code == 413 and "Traceback" not in big.text
    assert pending_rows(clinic) == []


def test_bad_limits_in_crm_toml_are_a_clear_error(clinic):
    from builder.errors import ProjectError

    with pytest.raises(ProjectError, match=r"\[public\] per_token must be a whole number of at least 1, not 'ten'"):
        served_with_limits(clinic, per_token="ten")
