"""A field set on selected list rows (and "assign", and exporting just them): each row through the normal write."""

from __future__ import annotations

import csv
import io
import json

from clinic_fixtures import csrf_of
from openpyxl import load_workbook

from builder.records.bulk_update import MAX_BULK_FIELDS
from builder.records.manual import MAX_BULK_IDS

URL = "/api/{entity}/bulk-update"


def follow_ups(clinic, count: int = 3) -> list[dict]:
    """`count` open follow-ups of the first patient, none assigned, as the admin made them."""
    admin = clinic.api("admin")
    patient = clinic.data["patients"][0]["id"]
    made = [
        admin.post("/api/follow_up", json={"patient": patient, "due_on": f"2026-04-0{i + 1}", "reason": f"Call {i}"})
        for i in range(count)
    ]
    assert all(m.status_code == 201 for m in made), [m.text for m in made]
    return [m.json() for m in made]


def english(clinic, role: str):
    """An API client for `role` that asks for English messages."""
    client = clinic.api(role)
    client.headers["Accept-Language"] = "en"
    return client


def records(*rows: dict) -> list[dict]:
    return [{"id": r["id"], "version": r["version"]} for r in rows]


def test_assigning_selected_rows_writes_each_alone_and_audits_the_request_once(clinic):
    first, second, third = follow_ups(clinic)
    doctor = clinic.api("doctor")
    stale = {"id": third["id"], "version": third["version"] + 4}
    before = {action: len(clinic.audit(action)) for action in ("update", "bulk_update")}
    staff = clinic.data["staff"][1]["id"]
    body = {
        "field": "assignee",
        "value": staff,
        "records": [*records(first, second), stale, {"id": 999_999, "version": 1}],
    }
    answer = doctor.post(URL.format(entity="follow_up"), json=body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (
        result["field"] == "assignee"
        and result["fields"] == ["assignee"]
        and result["updated"] == [first["id"], second["id"]]
    )
    assert [(r["id"], r["code"]) for r in result["refused"]] == [(third["id"], "conflict"), (999_999, "not_found")]
    admin = clinic.api("admin")
    assert [admin.get(f"/api/follow_up/{r['id']}").json()["assignee"] for r in (first, second, third)] == [
        staff,
        staff,
        None,
    ]
    updates = clinic.audit("update")[before["update"] :]
    assert sorted(e.record_id for e in updates) == [first["id"], second["id"]]  # each record's own change entry
    [entry] = clinic.audit("bulk_update")[before["bulk_update"] :]
    assert entry.entity == "follow_up" and entry.record_id is None
    assert json.loads(entry.detail) == {
        "fields": ["assignee"],
        "ids": [first["id"], second["id"]],
        "refused": [[third["id"], "conflict"], [999_999, "not_found"]],
    }


def test_several_fields_are_set_in_one_write_per_record_and_audited_by_name(clinic):
    first, second, third = follow_ups(clinic)
    staff = clinic.data["staff"][1]["id"]
    before = {action: len(clinic.audit(action)) for action in ("update", "bulk_update")}
    body = {
        "values": {"assignee": staff, "due_on": "2026-05-04", "reason": "Call back about the results"},
        "records": [*records(first, second), {"id": third["id"], "version": third["version"] + 1}],
    }
    answer = english(clinic, "doctor").post(URL.format(entity="follow_up"), json=body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result == {
        "fields": ["assignee", "due_on", "reason"],
        "updated": [first["id"], second["id"]],
        "refused": [{"id": third["id"], "code": "conflict", "message": result["refused"][0]["message"]}],
    }
    admin = clinic.api("admin")
    for row in (first, second):
        now = admin.get(f"/api/follow_up/{row['id']}").json()
        assert (now["assignee"], now["due_on"], now["reason"]) == (staff, "2026-05-04", "Call back about the results")
        assert now["version"] == row["version"] + 1  # all three fields in one write
    untouched = admin.get(f"/api/follow_up/{third['id']}").json()
    assert untouched["version"] == third["version"] and untouched["assignee"] is None
    updates = clinic.audit("update")[before["update"] :]
    assert sorted(e.record_id for e in updates) == [first["id"], second["id"]]
    [entry] = clinic.audit("bulk_update")[before["bulk_update"] :]
    detail = json.loads(entry.detail)
    assert detail["fields"] == ["assignee", "due_on", "reason"] and detail["ids"] == [first["id"], second["id"]]
    assert "2026-05-04" not in entry.detail and "Call back" not in entry.detail  # names, never values


def test_one_refused_field_leaves_the_whole_row_as_it_was(clinic):
    female, male = clinic.data["patients"][0], clinic.data["patients"][1]
    body = {"values": {"pregnancy": True, "channel": "referral"}, "records": records(female, male)}
    answer = english(clinic, "doctor").post(URL.format(entity="patient"), json=body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["updated"] == [female["id"]] and [r["id"] for r in result["refused"]] == [male["id"]]
    assert result["refused"][0]["errors"][0]["message"] == "Only female patients can be marked pregnant"
    admin = clinic.api("admin")
    assert admin.get(f"/api/patient/{female['id']}").json()["channel"] == "referral"
    unchanged = admin.get(f"/api/patient/{male['id']}").json()
    assert unchanged["channel"] == male.get("channel") and unchanged["version"] == male["version"]  # neither field set


def test_a_field_the_role_may_not_set_refuses_the_whole_several_field_request(clinic):
    rows = follow_ups(clinic, 1)
    url = URL.format(entity="follow_up")
    nurse = clinic.api("nurse")  # may set call attempts, not the assignee
    refused = nurse.post(url, json={"values": {"attempts": 2, "assignee": 1}, "records": records(*rows)})
    assert refused.status_code == 403
    state = clinic.api("admin").post(url, json={"values": {"reason": "x", "status": "done"}, "records": records(*rows)})
    assert state.status_code == 422 and state.json()["errors"][0]["code"] == "not_bulk"
    assert clinic.api("admin").get(f"/api/follow_up/{rows[0]['id']}").json()["version"] == rows[0]["version"]
    assert clinic.audit("bulk_update") == []


def test_a_row_its_rules_refuse_is_left_as_it_was_and_the_others_change(clinic):
    female, male = clinic.data["patients"][0], clinic.data["patients"][1]
    body = {"field": "pregnancy", "value": True, "records": records(female, male)}
    answer = english(clinic, "doctor").post(URL.format(entity="patient"), json=body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["updated"] == [female["id"]]
    [refused] = result["refused"]
    assert (refused["id"], refused["code"]) == (male["id"], "invalid")
    assert refused["errors"][0]["message"] == "Only female patients can be marked pregnant"
    admin = clinic.api("admin")
    assert admin.get(f"/api/patient/{female['id']}").json()["pregnancy"] is True
    unchanged = admin.get(f"/api/patient/{male['id']}").json()
    assert unchanged["pregnancy"] is None and unchanged["version"] == male["version"]


def test_a_refusal_never_shows_a_value_the_role_sees_masked_or_cannot_read(clinic):
    first, second = clinic.data["patients"][0], clinic.data["patients"][1]  # resident ids: a woman's, a man's
    body = {"field": "gender", "value": "male", "records": records(first, second)}
    answer = english(clinic, "front_desk").post(URL.format(entity="patient"), json=body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["updated"] == [second["id"]]
    assert result["refused"][0]["errors"][0]["message"] == "The gender differs from the one in the resident ID"
    for secret in ("110105196005010022", "110105196505021238", first["phone"], "13800130000", "penicillin"):
        assert secret not in answer.text


def test_fields_a_role_may_not_set_on_selected_rows_are_refused_for_the_whole_request(clinic):
    rows = follow_ups(clinic, 1)
    nurse, desk, admin = clinic.api("nurse"), clinic.api("front_desk"), clinic.api("admin")
    follow_up, patients = URL.format(entity="follow_up"), URL.format(entity="patient")
    patient = records(clinic.data["patients"][0])
    assert nurse.post(follow_up, json={"field": "assignee", "value": 1, "records": records(*rows)}).status_code == 403
    assert desk.post(patients, json={"field": "stage", "value": "new", "records": patient}).status_code == 403
    hidden = desk.post(patients, json={"field": "allergies", "value": 5, "records": patient})
    missing = desk.post(patients, json={"field": "nothing", "value": 5, "records": patient})
    assert hidden.status_code == missing.status_code == 422
    assert hidden.json()["errors"] == [{**e, "field": "allergies"} for e in missing.json()["errors"]]  # look alike
    for field in ("age", "phone"):  # computed; unique (the same value on many records cannot hold)
        refused = admin.post(patients, json={"field": field, "value": "13900001111", "records": patient})
        assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "not_bulk"
    state = admin.post(follow_up, json={"field": "status", "value": "done", "records": records(*rows)})
    assert state.status_code == 422 and state.json()["errors"][0]["code"] == "not_bulk"  # moved by transitions
    assert clinic.api("analyst").post(
        patients, json={"field": "name", "value": "X", "records": patient}
    ).status_code in (
        403,
        404,
    )
    assert clinic.audit("bulk_update") == []


def test_each_refused_field_is_named_and_a_hidden_one_is_answered_as_a_missing_one(clinic):
    desk, admin = english(clinic, "front_desk"), english(clinic, "admin")
    url, patient = URL.format(entity="patient"), records(clinic.data["patients"][0])

    def errors(client, values: dict) -> tuple[int, list[tuple[str, str]]]:
        answer = client.post(url, json={"values": values, "records": patient})
        return answer.status_code, [(e["field"], e["code"]) for e in answer.json()["errors"]]

    hidden = desk.post(url, json={"values": {"name": "X", "allergies": 5}, "records": patient})
    missing = desk.post(url, json={"values": {"name": "X", "nothing": 5}, "records": patient})
    assert hidden.status_code == missing.status_code == 422
    unknown = {"code": "unknown_field", "message": "There is no such field."}
    assert hidden.json() == {"errors": [{"field": "allergies", **unknown}]}
    assert missing.json() == {"errors": [{"field": "nothing", **unknown}]}
    assert errors(desk, {"allergies": "x", "nothing": "x", "name": "X"}) == (
        422,
        [("allergies", "unknown_field"), ("nothing", "unknown_field")],
    )  # every unknown one, in the body's order
    one = f"/api/patient/{patient[0]['id']}"
    for value in (5, "x"):  # a single-record PATCH answers the same way, whatever the value
        patched = desk.patch(one, json={"allergies": value, "version": patient[0]["version"]})
        nothing = desk.patch(one, json={"nothing": value, "version": patient[0]["version"]})
        assert patched.status_code == nothing.status_code == 422
        assert patched.json()["errors"] == [{**e, "field": "allergies"} for e in nothing.json()["errors"]]
    forbidden = desk.post(url, json={"values": {"name": "X", "stage": "new"}, "records": patient})
    assert forbidden.status_code == 403 and [e["field"] for e in forbidden.json()["errors"]] == ["stage"]
    assert errors(admin, {"name": "X", "age": 3, "phone": "13900001111"}) == (
        422,
        [("age", "not_bulk"), ("phone", "not_bulk")],
    )
    old_body = desk.post(url, json={"field": "allergies", "value": 5, "records": patient})
    assert old_body.status_code == 422 and old_body.json()["errors"][0]["field"] == "allergies"
    assert clinic.audit("bulk_update") == []


def test_bad_bodies_are_clear_errors(clinic):
    api = clinic.api("admin")
    url = URL.format(entity="patient")
    patient = records(clinic.data["patients"][0])
    assert api.post(url, content=b"{nope").status_code == 400
    assert api.post(url, json=[1]).status_code == 400
    for body in (
        {},
        {"field": "name", "records": patient},
        {"field": "name", "value": "X"},
        {"field": "name", "value": "X", "records": [{"id": 1}]},
        {"field": "name", "value": "X", "records": patient, "all": True},
        {"field": "name", "value": ["not", "text"], "records": patient},
        {"field": "minutes", "value": 5, "records": patient},
        {"values": {}, "records": patient},
        {"values": ["name"], "records": patient},
        {"values": {"name": "X"}, "field": "name", "value": "X", "records": patient},
        {"values": {"name": "X", "notes": 5}, "records": patient},
        {"values": {f"f{i}": 1 for i in range(MAX_BULK_FIELDS + 1)}, "records": patient},
    ):
        assert api.post(url, json=body).status_code == 422, body
    too_many = [{"id": i, "version": 1} for i in range(1, MAX_BULK_IDS + 2)]
    answer = api.post(url, json={"field": "name", "value": "X", "records": too_many})
    assert answer.status_code == 422 and str(MAX_BULK_IDS) in answer.json()["errors"][0]["message"]
    assert api.post(URL.format(entity="nothing"), json={}).status_code == 404
    assert clinic.audit("bulk_update") == []


def test_openapi_documents_the_bulk_update(clinic):
    document = clinic.api("admin").get("/api/openapi.json").json()
    post = document["paths"]["/api/follow_up/bulk-update"]["post"]
    assert set(post["responses"]) >= {"200", "403", "404", "422"}
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/FollowUpBulkUpdate")
    several, one = document["components"]["schemas"]["FollowUpBulkUpdate"]["oneOf"]
    assert set(several["required"]) == {"values", "records"} and set(one["required"]) == {"field", "value", "records"}
    assert several["properties"]["records"]["maxItems"] == MAX_BULK_IDS
    values = several["properties"]["values"]
    assert values["minProperties"] == 1 and values["maxProperties"] == MAX_BULK_FIELDS
    assert values["properties"]["due_on"]["format"] == "date"  # each field typed as in a PATCH
    assert "assignee" in values["properties"] and "status" not in values["properties"]
    assert "assignee" in one["properties"]["field"]["enum"] and "status" not in one["properties"]["field"]["enum"]
    patients = document["components"]["schemas"]["PatientBulkUpdate"]["oneOf"][0]["properties"]["values"]
    assert "age" not in patients["properties"]
    assert clinic.api("admin").get("/api/docs").status_code == 200


# -- pages ---------------------------------------------------------------------------


def tick(name: str, label: str) -> str:
    """The bar's checkbox for one field, as the list page renders it."""
    box = f'<input type="checkbox" id="bulk-field-{name}" name="field" value="{name}">'
    return f'<label for="bulk-field-{name}">{box} {label}</label>'


def test_the_bar_offers_the_fields_the_role_may_set_with_their_labels(clinic):
    follow_ups(clinic, 1)
    doctor = clinic.login("doctor").get("/records/follow_up").text
    assert 'data-bulk="assign"' in doctor and "Assign…" in doctor and "Change fields" in doctor
    assert "<legend>Fields to change (one or more)</legend>" in doctor  # ticked in the bar, no script needed
    assert tick("assignee", "Assignee") in doctor and 'value="status">' not in doctor
    nurse = clinic.login("nurse").get("/records/follow_up").text
    assert 'data-bulk="assign"' not in nurse and tick("attempts", "Call attempts") in nurse
    assert 'value="assignee">' not in nurse
    desk = clinic.login("front_desk").get("/records/patient").text
    assert tick("gender", "Gender") in desk and 'value="stage">' not in desk
    assert 'value="phone">' not in desk and 'data-bulk="export-csv"' not in desk  # unique; no export right
    assert 'data-bulk="export-xlsx"' in clinic.login("admin").get("/records/patient").text


def test_the_page_asks_for_the_value_with_the_forms_input_then_says_what_was_refused(clinic):
    first, second, third = follow_ups(clinic)
    browser = clinic.login("doctor")
    page = browser.get("/records/follow_up")
    form = {
        "csrf_token": csrf_of(page.text),
        "ids": [str(r["id"]) for r in (first, second, third)],
        **{f"version.{r['id']}": str(r["version"]) for r in (first, second)},
        f"version.{third['id']}": str(third["version"] + 1),  # changed since the list was read
    }
    asked = browser.post("/records/follow_up/bulk-update", data={**form, "assign": "1"})
    assert asked.status_code == 200
    assert '<select id="f-assignee" name="assignee"' in asked.text and ">Dr. Zhao · Dental</option>" in asked.text
    assert "Apply to 3 selected" in asked.text
    staff = str(clinic.data["staff"][1]["id"])
    done = browser.post(
        "/records/follow_up/bulk-update",
        data={**dict(form, csrf_token=csrf_of(asked.text)), "assign": "1", "apply": "1", "assignee": staff},
    )
    assert done.status_code == 200
    assert "Done for 2 of 3 selected." in done.text and "1 refused:" in done.text
    assert f"#{third['id']}</a>: Changed since you read the list" in done.text
    assert len(clinic.audit("bulk_update")) == 1


def test_a_refused_row_is_explained_with_labels_in_both_languages(clinic):
    female, male = clinic.data["patients"][0], clinic.data["patients"][1]
    browser = clinic.login("doctor")
    page = browser.get("/records/patient")
    form = {
        "csrf_token": csrf_of(page.text),
        "ids": [str(female["id"]), str(male["id"])],
        f"version.{female['id']}": str(female["version"]),
        f"version.{male['id']}": str(male["version"]),
        "field": "pregnancy",
    }
    asked = browser.post("/records/patient/bulk-update", data=form)
    assert '<input type="checkbox" id="f-pregnancy" name="pregnancy"' in asked.text and "Set “Pregnant”" in asked.text
    done = browser.post("/records/patient/bulk-update", data={**form, "apply": "1", "pregnancy": "true"})
    assert "Done for 1 of 2 selected." in done.text
    assert "Refused: Pregnant: Only female patients can be marked pregnant" in done.text
    assert "pregnancy:" not in done.text and "invalid" not in done.text
    browser.post("/locale", data={"csrf_token": csrf_of(done.text), "locale": "zh-CN", "next": "/records/patient"})
    page = browser.get("/records/patient")
    assert "修改字段" in page.text and "导出所选" not in page.text  # doctors may not export patients
    again = browser.post(
        "/records/patient/bulk-update",
        data={
            **form,
            "csrf_token": csrf_of(page.text),
            "apply": "1",
            "pregnancy": "true",
            f"version.{female['id']}": "1",
        },
    )
    assert "被拒绝:怀孕:仅女性患者可标记为怀孕" in again.text and "列表读取后此记录已被修改" in again.text


def test_the_page_adds_and_removes_fields_keeping_what_was_typed_then_sets_them_all(clinic):
    first, second = clinic.data["patients"][2], clinic.data["patients"][3]
    browser = clinic.login("doctor")
    page = browser.get("/records/patient")
    form = {
        "csrf_token": csrf_of(page.text),
        "ids": [str(first["id"]), str(second["id"])],
        f"version.{first['id']}": str(first["version"]),
        f"version.{second['id']}": str(second["version"]),
    }
    asked = browser.post("/records/patient/bulk-update", data={**form, "field": "channel"})
    assert '<select id="bulk-add-field" name="add_field">' in asked.text
    assert '<option value="stage">Stage</option>' in asked.text and '<option value="channel">' not in asked.text
    assert 'data-bulk="remove"' not in asked.text  # one field: nothing to take away
    added = browser.post(
        "/records/patient/bulk-update",
        data={**form, "field": "channel", "channel": "wechat", "apply": "1", "add": "1", "add_field": "stage"},
    )
    assert added.status_code == 200 and clinic.audit("bulk_update") == []  # adding applies nothing
    assert '<option value="wechat" selected>WeChat</option>' in added.text and 'id="f-stage"' in added.text
    assert "Set “Came through”, “Stage”" in added.text
    assert 'name="field" value="channel"' in added.text and 'name="field" value="stage"' in added.text
    removed = browser.post(
        "/records/patient/bulk-update",
        data={**form, "field": ["channel", "stage"], "channel": "wechat", "stage": "active", "remove": "stage"},
    )
    assert 'id="f-stage"' not in removed.text and '<option value="wechat" selected>' in removed.text
    done = browser.post(
        "/records/patient/bulk-update",
        data={**form, "field": ["channel", "stage"], "channel": "wechat", "stage": "active", "apply": "1"},
    )
    assert done.status_code == 200 and "Done for 2 of 2 selected." in done.text
    admin = clinic.api("admin")
    for patient in (first, second):
        now = admin.get(f"/api/patient/{patient['id']}").json()
        assert (now["channel"], now["stage"], now["version"]) == ("wechat", "active", patient["version"] + 1)
    [entry] = clinic.audit("bulk_update")
    assert json.loads(entry.detail)["fields"] == ["channel", "stage"]
    browser.post("/locale", data={"csrf_token": csrf_of(done.text), "locale": "zh-CN", "next": "/records/patient"})
    page = browser.get("/records/patient")
    chinese = browser.post(
        "/records/patient/bulk-update", data={**form, "csrf_token": csrf_of(page.text), "field": "channel"}
    )
    assert "同时修改" in chinese.text and "添加此字段" in chinese.text


def test_page_posts_for_fields_the_role_may_not_set_and_forged_forms_are_refused(clinic):
    patient = clinic.data["patients"][0]
    browser = clinic.login("front_desk")
    page = browser.get("/records/patient")
    form = {"csrf_token": csrf_of(page.text), "ids": [str(patient["id"])], f"version.{patient['id']}": "1"}
    for field in ("stage", "allergies", "age", "nothing"):
        refused = browser.post("/records/patient/bulk-update", data={**form, "field": field, "apply": "1", field: "x"})
        assert refused.status_code == 403 and "Choose a field your role may change" in refused.text, field
    assert browser.post("/records/patient/bulk-update", data={**form, "ids": ["1; drop"]}).status_code == 400
    empty = browser.post("/records/patient/bulk-update", data={"csrf_token": form["csrf_token"], "field": "name"})
    assert empty.status_code == 422 and "Select at least one row first." in empty.text
    assert browser.post("/records/patient/bulk-update", data={**form, "field": "name"}).status_code == 200
    none = browser.post("/records/patient/bulk-update", data=form)  # no field ticked in the bar
    assert none.status_code == 422 and "Tick at least one field to change." in none.text
    both = browser.post("/records/patient/bulk-update", data={**form, "field": ["gender", "channel"]})
    assert both.status_code == 200 and 'id="f-gender"' in both.text and 'id="f-channel"' in both.text  # two ticked
    no_csrf = {k: v for k, v in form.items() if k != "csrf_token"}
    assert (
        browser.post("/records/patient/bulk-update", data={**no_csrf, "field": "name", "apply": "1"}).status_code == 403
    )
    assert clinic.audit("bulk_update") == []


def test_exporting_selected_rows_is_the_lists_export_of_just_those(clinic):
    chosen = [clinic.data["patients"][0], clinic.data["patients"][2]]
    browser = clinic.login("admin")
    page = browser.get("/records/patient")
    form = {"csrf_token": csrf_of(page.text), "ids": [str(p["id"]) for p in chosen]}
    before = len(clinic.audit("export"))
    sent = browser.post("/records/patient/export-selected", data={**form, "format": "csv"})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/api/patient/export.csv?id__in={chosen[0]['id']},{chosen[1]['id']}"
    rows = list(csv.reader(io.StringIO(browser.get(sent.headers["location"]).text.lstrip("\ufeff"))))
    assert sorted(r[0] for r in rows[1:]) == sorted(str(p["id"]) for p in chosen)
    workbook = browser.get(
        browser.post("/records/patient/export-selected", data={**form, "format": "xlsx"}).headers["location"]
    )
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sorted(row[0] for row in sheet.iter_rows(min_row=2, values_only=True)) == sorted(p["id"] for p in chosen)
    exports = clinic.audit("export")[before:]
    assert len(exports) == 2 and sorted(json.loads(exports[0].detail)["ids"]) == sorted(p["id"] for p in chosen)
    desk = clinic.login("front_desk")
    listed = desk.get("/records/patient")
    refused = desk.post(
        "/records/patient/export-selected",
        data={"csrf_token": csrf_of(listed.text), "ids": form["ids"], "format": "csv"},
    )
    assert refused.status_code == 403
    assert browser.post("/records/patient/export-selected", data={**form, "format": "pdf"}).status_code == 400
