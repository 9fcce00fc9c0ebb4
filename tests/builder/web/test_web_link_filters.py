"""A link's `filter:` through the web app: the picker offers only what passes, and the API cannot set anything else."""

from __future__ import annotations

import re

from clinic_fixtures import csrf_of

from builder.records import SYSTEM


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def test_the_api_refuses_a_doctor_of_another_department(clinic):
    li, zhao = (s["id"] for s in clinic.data["staff"])  # internal medicine, dental
    patient = clinic.data["patients"][0]["id"]
    api = clinic.api("doctor")
    body = {"patient": patient, "visited_at": "2026-03-02T10:00", "department": "dental"}
    refused = api.post("/api/visit", json=body | {"doctor": li})
    assert refused.status_code == 422, refused.text
    error = next(e for e in refused.json()["errors"] if e["field"] == "doctor")
    assert error["code"] == "link_filter"
    assert error["message"].startswith(("Doctor:", "医生:"))  # labelled, in the token's language
    assert clinic.runtime.records.list(SYSTEM, "visit").total == 1  # nothing half-written
    made = api.post("/api/visit", json=body | {"doctor": zhao})
    assert made.status_code == 201, made.text
    moved = api.patch(f"/api/visit/{made.json()['id']}", json={"version": 1, "department": "internal_medicine"})
    assert moved.status_code == 422 and "link_filter" in moved.text  # the stored doctor no longer passes


def test_the_picker_offers_only_doctors_of_the_department_given(clinic):
    li, zhao = (s["id"] for s in clinic.data["staff"])
    client = clinic.login("doctor")
    assert _ids(client.get("/records/visit/pick/doctor?q=&department=dental")) == {zhao}
    assert _ids(client.get("/records/visit/pick/doctor?q=&department=internal_medicine")) == {li}
    assert _ids(client.get("/records/visit/pick/doctor?q=")) == {li, zhao}  # no department yet: any doctor
    assert _ids(client.get("/records/visit/pick/doctor?q=Li&department=dental")) == set()
    assert _ids(client.get("/records/visit/pick/doctor?q=Zhao&department=internal_medicine")) == set()
    assert _ids(client.get("/records/visit/pick/doctor?q=&department=nonsense")) == {li, zhao}  # read as empty
    assert client.get("/records/visit/pick/diagnosis?q=").status_code == 404
    assert client.get("/records/visit/pick/nothing?q=").status_code == 404


def test_the_picker_answers_only_roles_that_may_read_the_target(clinic):
    assert clinic.login("marketing").get("/records/visit/pick/doctor?q=").status_code == 403


def test_the_form_marks_the_select_and_refuses_a_wrong_doctor_beside_it(clinic):
    li, zhao = (s["id"] for s in clinic.data["staff"])
    client = clinic.login("doctor")
    page = client.get("/records/visit/new").text
    select = re.search(r'<select id="f-doctor"[^>]*>', page)
    assert select and 'data-pick-url="/records/visit/pick/doctor?q="' in select.group(0)
    assert 'data-depends="department"' in select.group(0)
    data = {
        "csrf_token": csrf_of(page),
        "patient": str(clinic.data["patients"][0]["id"]),
        "visited_at": "2026-03-02T10:00",
        "department": "dental",
        "doctor": str(li),
    }
    refused = client.post("/records/visit/new", data=data)
    assert refused.status_code == 422 and 'id="err-doctor"' in refused.text
    assert "Doctor: the chosen record is not one of the allowed choices here." in refused.text
    # re-displayed for the department typed, the select offers only its doctors (and keeps the one chosen)
    options = re.search(r'<select id="f-doctor".*?</select>', refused.text, re.S)
    assert options and "Dr. Zhao" in options.group(0)
    saved = client.post("/records/visit/new", data=data | {"doctor": str(zhao)})
    assert saved.status_code == 303


def test_the_edit_form_narrows_the_options_to_the_stored_department(clinic):
    li, zhao = (s["id"] for s in clinic.data["staff"])
    visit = clinic.runtime.records.create(
        SYSTEM,
        "visit",
        {"patient": clinic.data["patients"][1]["id"], "visited_at": "2026-03-03T09:00", "department": "dental"},
    )
    page = clinic.login("doctor").get(f"/records/visit/{visit['id']}/edit").text
    options = re.search(r'<select id="f-doctor".*?</select>', page, re.S)
    assert options and f'value="{zhao}"' in options.group(0) and f'value="{li}"' not in options.group(0)
