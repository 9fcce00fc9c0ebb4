"""Workflow transitions through the API and the pages: the same moves allowed, the same refused."""

from __future__ import annotations

import re

from clinic_fixtures import csrf_of

from builder.system_tables import workflow_history


def appointment(clinic, i: int = 0) -> dict:
    return clinic.data["appointments"][i]


def move(client, record: dict, name: str, **body):
    return client.post(f"/api/appointment/{record['id']}/transitions/{name}", json={"version": 1, **body})


def history(clinic, record_id: int) -> list:
    with clinic.runtime.engine.connect() as conn:
        query = workflow_history.select().where(workflow_history.c.record_id == record_id)
        return list(conn.execute(query.order_by(workflow_history.c.id)).all())


def test_the_api_makes_a_transition_and_refuses_what_the_role_may_not(clinic):
    appt = appointment(clinic)
    assert move(clinic.api("nurse"), appt, "confirm").status_code == 403  # nurses check in, they do not confirm
    assert move(clinic.api("analyst"), appt, "confirm").status_code == 404  # no read access: not even there
    assert move(clinic.api("front_desk"), appt, "check_in").json()["errors"][0]["code"] == "transition.wrong_state"
    assert move(clinic.api("front_desk"), appt, "teleport").status_code == 404
    done = move(clinic.api("front_desk"), appt, "confirm")
    assert done.status_code == 200 and (done.json()["status"], done.json()["version"]) == ("confirmed", 2)
    assert move(clinic.api("front_desk"), appt, "cancel").status_code == 409  # version 1 is stale now
    [entry] = history(clinic, appt["id"])
    assert (entry.transition, entry.from_state, entry.to_state) == ("confirm", "requested", "confirmed")


def test_the_api_refuses_writing_the_state_field_and_malformed_bodies(clinic):
    appt = appointment(clinic)
    api = clinic.api("front_desk")
    patched = api.patch(f"/api/appointment/{appt['id']}", json={"version": 1, "status": "completed"})
    assert patched.status_code == 422 and patched.json()["errors"][0]["code"] == "workflow_state"
    url = f"/api/appointment/{appt['id']}/transitions/cancel"
    assert api.post(url, json={}).json()["errors"][0]["field"] == "version"
    assert api.post(url, content=b"{nope").status_code == 400
    assert api.post(url, json={"version": 1, "colour": "red"}).status_code == 422
    assert api.post(url, json={"version": 1, "comment": "x" * 2001}).status_code == 422
    assert api.post(url, json={"version": 1, "comment": "called"}).json()["status"] == "cancelled"
    assert history(clinic, appt["id"])[0].comment == "called"


def test_openapi_documents_the_transition_endpoint(clinic):
    document = clinic.api("admin").get("/api/openapi.json").json()
    path = document["paths"]["/api/appointment/{id}/transitions/{transition}"]
    names = next(p for p in path["parameters"] if p["name"] == "transition")["schema"]["enum"]
    assert names == ["confirm", "check_in", "complete", "mark_no_show", "cancel"]
    assert set(path["post"]["responses"]) >= {"200", "403", "404", "409", "422"}
    assert "/api/patient/{id}/transitions/{transition}" not in document["paths"]  # no workflow, no endpoint


def test_the_record_page_shows_labelled_buttons_and_a_post_makes_the_move(clinic):
    appt = appointment(clinic)
    browser = clinic.login("front_desk")
    page = browser.get(f"/records/appointment/{appt['id']}")
    assert page.status_code == 200
    assert ">Requested<" in page.text and "Cancel this appointment?" in page.text
    assert f'action="/records/appointment/{appt["id"]}/transitions/confirm"' in page.text
    assert "/transitions/check_in" not in page.text  # not from this state
    assert "<svg" in page.text and "<script" not in page.text.split("<svg", 1)[1].split("</svg>", 1)[0]
    response = browser.post(
        f"/records/appointment/{appt['id']}/transitions/confirm",
        data={"csrf_token": csrf_of(page.text), "version": "1"},
    )
    assert response.status_code == 303
    after = browser.get(response.headers["location"])
    assert ">Confirmed<" in after.text and re.search(r"<td>Confirm</td><td>Requested → Confirmed</td>", after.text)


def test_a_page_post_the_role_may_not_make_is_refused(clinic):
    appt = appointment(clinic)
    nurse = clinic.login("nurse")
    page = nurse.get(f"/records/appointment/{appt['id']}")
    assert "/transitions/confirm" not in page.text  # no button for it
    forged = nurse.post(
        f"/records/appointment/{appt['id']}/transitions/confirm",
        data={"csrf_token": csrf_of(page.text), "version": "1"},
    )
    assert forged.status_code == 403 and "may not make this move" in forged.text
    assert history(clinic, appt["id"]) == []
    no_token = nurse.post(f"/records/appointment/{appt['id']}/transitions/check_in", data={"version": "1"})
    assert no_token.status_code == 403 and history(clinic, appt["id"]) == []  # CSRF still applies


def test_the_diagram_page_needs_read_access(clinic):
    assert "<svg" in clinic.login("front_desk").get("/workflows/appointment_flow").text
    assert clinic.login("analyst").get("/workflows/appointment_flow").status_code == 404
    assert clinic.login("front_desk").get("/workflows/nothing").status_code == 404


def test_forms_show_the_state_as_text_and_a_role_that_may_only_move_it_has_no_edit_button(clinic):
    appt = appointment(clinic)
    form = clinic.login("front_desk").get(f"/records/appointment/{appt['id']}/edit")
    assert form.status_code == 200 and 'name="starts_at"' in form.text and 'name="status"' not in form.text
    assert 'name="status"' not in clinic.login("front_desk").get("/records/appointment/new").text
    nurse_page = clinic.login("nurse").get(f"/records/appointment/{appt['id']}")  # nurses may write only `status`
    assert f"/records/appointment/{appt['id']}/edit" not in nurse_page.text


def test_refusals_on_the_page_are_explained_in_words_not_codes(clinic):
    appt = appointment(clinic)
    browser = clinic.login("front_desk")
    page = browser.get(f"/records/appointment/{appt['id']}")
    form = {"csrf_token": csrf_of(page.text), "version": "1"}
    wrong = browser.post(f"/records/appointment/{appt['id']}/transitions/check_in", data=form)
    assert wrong.status_code == 422 and "not possible from the current status" in wrong.text
    assert "`requested`" not in wrong.text and "wrong_state" not in wrong.text
    stale = browser.post(f"/records/appointment/{appt['id']}/transitions/confirm", data={**form, "version": "7"})
    assert stale.status_code == 409 and history(clinic, appt["id"]) == []


def test_a_manual_button_on_the_page_and_the_api_for_its_roles_only(clinic):
    from builder.system_tables import outbox

    appt = appointment(clinic)
    confirmed = move(clinic.api("front_desk"), appt, "confirm").json()
    url = f"/api/appointment/{appt['id']}/automations/appointment_reminder"
    assert clinic.api("nurse").post(url).status_code == 403
    assert clinic.api("analyst").post(url).status_code == 404
    nurse_page = clinic.login("nurse").get(f"/records/appointment/{appt['id']}")
    assert "Send reminder now" not in nurse_page.text
    browser = clinic.login("front_desk")
    page = browser.get(f"/records/appointment/{appt['id']}")
    assert "Send reminder now" in page.text and confirmed["status"] == "confirmed"
    pressed = browser.post(
        f"/records/appointment/{appt['id']}/automations/appointment_reminder", data={"csrf_token": csrf_of(page.text)}
    )
    assert pressed.status_code == 303
    assert "Nothing to do" in browser.get(pressed.headers["location"]).text
    with clinic.runtime.engine.connect() as conn:
        assert conn.execute(outbox.select()).all() == []  # the patient gave no SMS consent: the action's `if:`
    patient = clinic.api("admin").get(f"/api/patient/{appt['patient']}").json()
    consent = {"version": patient["version"], "consent_sms": True}
    assert clinic.api("admin").patch(f"/api/patient/{appt['patient']}", json=consent).status_code == 200
    assert clinic.api("front_desk").post(url).json() == {"automation": "appointment_reminder", "actions": 1}
    with clinic.runtime.engine.connect() as conn:
        [row] = conn.execute(outbox.select()).all()
    assert (row.channel, row.recipient, row.template) == ("sms", "patient", "appointment_reminder")
    document = clinic.api("admin").get("/api/openapi.json").json()
    assert "/api/appointment/{id}/automations/{automation}" in document["paths"]
