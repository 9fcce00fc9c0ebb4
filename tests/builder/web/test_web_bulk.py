"""A manual automation started on selected list rows: per-row judgement, a summary in words, one audit entry."""

from __future__ import annotations

import json

import sqlalchemy as sa
from clinic_fixtures import csrf_of

from builder.records.manual import MAX_BULK_IDS
from builder.system_tables import outbox

URL = "/api/appointment/automations/appointment_reminder"


def confirm_with_consent(clinic, index: int) -> dict:
    """Appointment `index` confirmed, its patient consenting to SMS: the reminder sends one message."""
    appointment = clinic.data["appointments"][index]
    admin = clinic.api("admin")
    patient = admin.get(f"/api/patient/{appointment['patient']}").json()
    consent = {"version": patient["version"], "consent_sms": True}
    assert admin.patch(f"/api/patient/{patient['id']}", json=consent).status_code == 200
    moved = admin.post(f"/api/appointment/{appointment['id']}/transitions/confirm", json={"version": 1})
    assert moved.status_code == 200, moved.text
    return appointment


def outbox_rows(clinic) -> list:
    with clinic.runtime.engine.connect() as conn:
        return list(conn.execute(sa.select(outbox).order_by(outbox.c.id)).all())


def test_the_api_runs_on_each_selected_record_and_reports_the_refused_ones(clinic):
    sent = confirm_with_consent(clinic, 0)
    waiting = clinic.data["appointments"][1]  # still requested: the reminder's `if:` does not hold
    before = len(clinic.audit("automation"))
    answer = clinic.api("front_desk").post(URL, json={"ids": [sent["id"], waiting["id"], 999_999, sent["id"]]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["ran"], body["actions"]) == ([sent["id"]], 1)
    assert [(r["id"], r["code"]) for r in body["refused"]] == [(waiting["id"], "condition"), (999_999, "not_found")]
    [row] = outbox_rows(clinic)
    assert (row.record_id, row.template, row.channel) == (sent["id"], "appointment_reminder", "sms")
    entries = clinic.audit("automation")[before:]
    assert len(entries) == 1  # one entry for the request, naming what ran and what was refused
    assert entries[0].actor.startswith("token:") and entries[0].record_id is None
    assert json.loads(entries[0].detail) == {
        "automation": "appointment_reminder",
        "actions": 1,
        "ids": [sent["id"]],
        "refused": [[waiting["id"], "condition"], [999_999, "not_found"]],
    }


def test_a_role_the_button_does_not_name_gets_403_and_one_that_cannot_read_404(clinic):
    ids = [a["id"] for a in clinic.data["appointments"][:2]]
    assert clinic.api("nurse").post(URL, json={"ids": ids}).status_code == 403
    assert clinic.api("analyst").post(URL, json={"ids": ids}).status_code == 404
    assert clinic.api("front_desk").post("/api/appointment/automations/nothing", json={"ids": ids}).status_code == 404
    assert (
        clinic.api("front_desk").post("/api/patient/automations/appointment_reminder", json={"ids": ids}).status_code
        == 404
    )
    assert outbox_rows(clinic) == [] and clinic.audit("automation") == []


def test_bad_bodies_are_clear_errors_and_the_ids_are_capped(clinic):
    api = clinic.api("front_desk")
    assert api.post(URL, content=b"{nope").status_code == 400
    assert api.post(URL, json=[1]).status_code == 400
    for body in ({}, {"ids": []}, {"ids": "1,2"}, {"ids": [True]}, {"ids": [0]}, {"ids": [1], "all": True}):
        answer = api.post(URL, json=body)
        assert answer.status_code == 422, body
        assert answer.json()["errors"][0]["field"] in ("ids", "all")
    too_many = api.post(URL, json={"ids": list(range(1, MAX_BULK_IDS + 2))})
    assert too_many.status_code == 422 and str(MAX_BULK_IDS) in too_many.json()["errors"][0]["message"]
    assert clinic.audit("automation") == []


def test_the_list_page_has_checkboxes_and_the_bar_for_roles_the_button_names_only(clinic):
    desk = clinic.login("front_desk").get("/records/appointment").text
    assert (
        desk.count('name="ids"') == 4 and 'formaction="/records/appointment/automations/appointment_reminder"' in desk
    )
    assert "Send reminder now" in desk
    nurse = clinic.login("nurse").get("/records/appointment").text
    assert "data-automation=" not in nurse and "Send reminder now" not in nurse  # nurses may read, not press
    patients = clinic.login("front_desk").get("/records/patient").text
    assert "data-automation=" not in patients  # no manual button there (a field to change, see test_web_bulk_update)


def test_the_page_post_runs_it_and_summarises_in_words(clinic):
    sent = confirm_with_consent(clinic, 0)
    waiting = clinic.data["appointments"][1]
    browser = clinic.login("front_desk")
    page = browser.get("/records/appointment")
    done = browser.post(
        "/records/appointment/automations/appointment_reminder",
        data={"csrf_token": csrf_of(page.text), "ids": [str(sent["id"]), str(waiting["id"])]},
    )
    assert done.status_code == 200
    assert "Done for 1 of 2 selected." in done.text and "1 refused:" in done.text
    assert f'<a href="/records/appointment/{waiting["id"]}">#{waiting["id"]}</a>: Does not apply' in done.text
    assert "status ==" not in done.text and "condition`" not in done.text  # words, not the expression
    assert len(outbox_rows(clinic)) == 1 and len(clinic.audit("automation")) == 1
    empty = browser.post(
        "/records/appointment/automations/appointment_reminder", data={"csrf_token": csrf_of(page.text)}
    )
    assert empty.status_code == 422 and "Select at least one row first." in empty.text
    forged = browser.post(
        "/records/appointment/automations/appointment_reminder",
        data={"csrf_token": csrf_of(page.text), "ids": ["1; drop"]},
    )
    assert forged.status_code == 400


def test_a_page_post_by_a_role_the_button_does_not_name_is_refused_and_needs_csrf(clinic):
    nurse = clinic.login("nurse")
    page = nurse.get("/records/appointment")
    ids = [str(a["id"]) for a in clinic.data["appointments"][:2]]
    refused = nurse.post(
        "/records/appointment/automations/appointment_reminder", data={"csrf_token": csrf_of(page.text), "ids": ids}
    )
    assert refused.status_code == 403 and "Your role may not make this move." in refused.text
    assert "<h1>Send reminder now</h1>" in refused.text  # its label, never its name
    desk = clinic.login("front_desk")
    assert desk.post("/records/appointment/automations/appointment_reminder", data={"ids": ids}).status_code == 403
    assert outbox_rows(clinic) == [] and clinic.audit("automation") == []


def test_the_summary_speaks_chinese(clinic):
    browser = clinic.login("front_desk")
    page = browser.get("/records/appointment")
    browser.post("/locale", data={"csrf_token": csrf_of(page.text), "locale": "zh-CN", "next": "/records/appointment"})
    listed = browser.get("/records/appointment").text
    assert "立即发送提醒" in listed and "选择" in listed
    done = browser.post(
        "/records/appointment/automations/appointment_reminder",
        data={"csrf_token": csrf_of(listed), "ids": [str(clinic.data["appointments"][0]["id"])]},
    )
    assert "已对所选 1 条中的 0 条执行。" in done.text and "当前不适用于此记录" in done.text


def test_openapi_documents_the_selected_rows_endpoint(clinic):
    document = clinic.api("admin").get("/api/openapi.json").json()
    path = document["paths"]["/api/appointment/automations/{automation}"]
    assert path["parameters"][0]["schema"]["enum"] == ["appointment_reminder"]
    assert set(path["post"]["responses"]) >= {"200", "403", "404", "422"}
    assert document["components"]["schemas"]["SelectedRecords"]["properties"]["ids"]["maxItems"] == MAX_BULK_IDS
    assert "/api/patient/automations/{automation}" not in document["paths"]
    assert clinic.api("admin").get("/api/docs").status_code == 200  # the docs page renders the new body too


MOVE = "/api/appointment/transitions/confirm"


def history(clinic) -> list:
    from builder.system_tables import workflow_history

    with clinic.runtime.engine.connect() as conn:
        return list(conn.execute(sa.select(workflow_history).order_by(workflow_history.c.id)).all())


def test_a_simple_transition_on_selected_records_moves_each_it_may_and_reports_the_rest(clinic):
    first, second, third = (a["id"] for a in clinic.data["appointments"][:3])
    records = [{"id": first, "version": 1}, {"id": second, "version": 1}, {"id": third, "version": 5}]
    answer = clinic.api("front_desk").post(MOVE, json={"records": [*records, {"id": 999_999, "version": 1}]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["moved"] == [first, second]
    assert [(r["id"], r["code"]) for r in body["refused"]] == [(third, "conflict"), (999_999, "not_found")]
    assert [(h.record_id, h.transition, h.actor) for h in history(clinic)] == [
        (first, "confirm", "token:test-front_desk"),
        (second, "confirm", "token:test-front_desk"),
    ]
    again = clinic.api("front_desk").post(MOVE, json={"records": [{"id": first, "version": 2}]}).json()
    assert [(r["id"], r["code"]) for r in again["refused"]] == [(first, "wrong_state")]
    assert len(clinic.audit("transition")) == 2  # each move audited as made one by one


def test_selected_moves_are_for_the_transitions_roles_and_ask_for_nothing(clinic):
    records = [{"id": clinic.data["appointments"][0]["id"], "version": 1}]
    assert clinic.api("nurse").post(MOVE, json={"records": records}).status_code == 403
    assert clinic.api("analyst").post(MOVE, json={"records": records}).status_code == 404
    cancel = clinic.api("front_desk").post("/api/appointment/transitions/cancel", json={"records": records})
    assert cancel.status_code == 422 and cancel.json()["errors"][0]["code"] == "not_bulk"  # it asks for a comment
    for body in ({"records": []}, {"records": [{"id": 1}]}, {"records": [{"id": 1, "version": True}]}, {"ids": [1]}):
        assert clinic.api("front_desk").post(MOVE, json=body).status_code == 422, body
    assert history(clinic) == []
    page = clinic.login("front_desk").get("/records/appointment").text
    assert 'formaction="/records/appointment/transitions/confirm"' in page
    assert "/records/appointment/transitions/cancel" not in page  # asks for a comment: record by record
    assert (
        'formaction="/records/appointment/transitions/confirm"'
        not in clinic.login("nurse").get("/records/appointment").text
    )


def test_the_list_page_moves_the_selected_rows_and_says_which_could_not(clinic):
    first, second = (a["id"] for a in clinic.data["appointments"][:2])
    assert clinic.api("front_desk").post(MOVE, json={"records": [{"id": second, "version": 1}]}).status_code == 200
    browser = clinic.login("front_desk")
    page = browser.get("/records/appointment")
    form = {"csrf_token": csrf_of(page.text), "ids": [str(first), str(second)], f"version.{first}": "1"}
    done = browser.post("/records/appointment/transitions/confirm", data={**form, f"version.{second}": "2"})
    assert done.status_code == 200 and "<h1>Confirm</h1>" in done.text
    assert (
        "Done for 1 of 2 selected." in done.text and "This move is not possible from the current status." in done.text
    )
    assert "wrong_state" not in done.text and "`requested`" not in done.text
    missing = browser.post("/records/appointment/transitions/confirm", data={**form, "ids": [str(second)]})
    assert missing.status_code == 400  # no version for the row: a forged form
