"""The REST API: CRUD, lists, errors, optimistic locking, export, and hostile input."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from builder.system_tables import audit


def test_list_filters_sorts_and_pages(clinic):
    api = clinic.api("admin")
    page = api.get("/api/patient", params={"stage": "active", "sort": "name", "limit": 1})
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == 2 and body["limit"] == 1 and body["offset"] == 0
    assert [p["name"] for p in body["items"]] == ["Liu Yang"]
    second = api.get("/api/patient", params={"stage": "active", "sort": "name", "limit": 1, "offset": 1}).json()
    assert [p["name"] for p in second["items"]] == ["Zhang Wei"]
    ranged = api.get("/api/appointment", params={"starts_at__gte": "2026-03-02T00:00", "sort": "-starts_at"}).json()
    assert [a["starts_at"] for a in ranged["items"]] == [
        "2026-03-04T09:00:00",
        "2026-03-03T09:00:00",
        "2026-03-02T09:00:00",
    ]
    searched = api.get("/api/patient", params={"q": "wang"}).json()
    assert [p["name"] for p in searched["items"]] == ["Wang Fang"]


def test_the_location_of_a_created_record_names_it_whatever_the_query(clinic):
    api = clinic.api("admin")
    created = api.post("/api/patient?stage=lead", json={"name": "Zhao Lei", "phone": "139 1234 0001"})
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert location == f"http://testserver/api/patient/{created.json()['id']}"
    assert api.get(location).json()["phone"] == "+8613912340001"


def test_create_read_update_delete_with_child_rows(clinic):
    api = clinic.api("admin")
    patient = clinic.data["patients"][0]["id"]
    created = api.post(
        "/api/visit",
        json={
            "patient": patient,
            "visited_at": "2026-04-01T09:30",
            "prescriptions": [{"drug": "Metformin", "dose": "500 mg", "days": 30}],
        },
    )
    assert created.status_code == 201, created.text
    visit = created.json()
    assert created.headers["location"].endswith(f"/api/visit/{visit['id']}")
    assert api.get(created.headers["location"]).json()["id"] == visit["id"]  # where the new record is
    assert visit["prescriptions"][0]["drug"] == "Metformin" and visit["version"] == 1
    fetched = api.get(f"/api/visit/{visit['id']}").json()
    assert fetched["prescriptions"] == visit["prescriptions"]
    changed = api.patch(
        f"/api/visit/{visit['id']}",
        json={"version": 1, "satisfaction": 8, "prescriptions": [{"drug": "Insulin", "days": 10}]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["satisfaction"] == 8 and [r["drug"] for r in changed.json()["prescriptions"]] == ["Insulin"]
    assert api.delete(f"/api/visit/{visit['id']}", params={"version": 1}).status_code == 409
    assert api.delete(f"/api/visit/{visit['id']}").status_code == 204
    assert api.get(f"/api/visit/{visit['id']}").status_code == 404


def test_stale_patch_is_a_conflict(clinic):
    api = clinic.api("admin")
    patient = clinic.data["patients"][1]
    first = api.patch(f"/api/patient/{patient['id']}", json={"version": patient["version"], "stage": "active"})
    assert first.status_code == 200
    stale = api.patch(f"/api/patient/{patient['id']}", json={"version": patient["version"], "stage": "dormant"})
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["code"] == "conflict"
    missing = api.patch(f"/api/patient/{patient['id']}", json={"stage": "dormant"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "version"


def test_validation_errors_name_their_fields(clinic):
    api = clinic.api("admin")
    response = api.post(
        "/api/visit", json={"visited_at": "2026-04-01T09:30", "satisfaction": 11, "prescriptions": [{"days": 3}]}
    )
    assert response.status_code == 422
    fields = {e["field"]: e["code"] for e in response.json()["errors"]}
    assert fields["patient"] == "required"
    assert fields["satisfaction"] == "max"
    assert fields["prescriptions.0.drug"] == "required"
    rule = api.post(
        "/api/patient", json={"name": "Li Lei", "phone": "13900000001", "gender": "male", "pregnancy": True}
    )
    assert rule.status_code == 422
    assert {e["field"] for e in rule.json()["errors"]} == {"pregnancy"}
    duplicate = api.post("/api/patient", json={"name": "Copy", "phone": clinic.data["patients"][0]["phone"]})
    assert duplicate.status_code == 422 and duplicate.json()["errors"][0]["code"] == "unique"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"name": NaN}', b"\xff\xfe", b'"text"', b"", b"[" * 10000])
def test_malformed_json_is_400(clinic, body):
    response = clinic.api("admin").post("/api/patient", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "malformed_json"


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "name;drop table patient"},
        {"sort": "-"},
        {"sort": "phone"},
        {"name__gte": "' or 1=1--"} | {"sort": "x"},
        {"stage": "' or 1=1--"},
        {"birth_date__gte": "' or 1=1--"},
        {"id": "1 or 1=1"},
        {"nope": "1"},
        {"name__regex": ".*"},
        {"limit": "1; drop table patient"},
        {"limit": "-1"},
        {"limit": "100000"},
        {"offset": "-5"},
        {"q": "a\x00b"},
        "name=%ED%A0%80&q=%00",
        {"starts_at__gte": "0001-01-01T00:00:00+05:00"},
    ],
)
def test_hostile_list_parameters_are_refused_not_run(clinic, params):
    api = clinic.api("admin")
    entity = "appointment" if "starts_at__gte" in params else "patient"
    if isinstance(params, str):
        response = api.get(f"/api/{entity}?{params}")
    else:
        response = api.get(f"/api/{entity}", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["errors"]
    assert api.get("/api/patient").json()["total"] == 4  # the table is still there


def test_injection_in_values_is_stored_as_text(clinic):
    api = clinic.api("admin")
    name = "Robert'); DROP TABLE patient;--"
    created = api.post("/api/patient", json={"name": name, "phone": "13900000002"})
    assert created.status_code == 201
    found = api.get("/api/patient", params={"name": name}).json()
    assert [p["name"] for p in found["items"]] == [name]
    greater = api.get("/api/patient", params={"name__gte": "' or 1=1--"})
    assert greater.status_code == 200  # a plain comparison with that text, not SQL


def test_unstorable_text_is_a_field_error(clinic):
    response = clinic.api("admin").post("/api/patient", json={"name": "a\x00b", "phone": "13900000003"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


def test_out_of_range_datetime_is_a_field_error(clinic):
    api = clinic.api("admin")
    body = {
        "patient": clinic.data["patients"][0]["id"],
        "doctor": clinic.data["staff"][0]["id"],
        "starts_at": "0001-01-01T00:00:00+05:00",
    }
    response = api.post("/api/appointment", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "starts_at"


def test_errors_are_json_under_api(clinic):
    admin = clinic.api("admin")
    assert admin.get("/api/nothing").status_code == 404
    assert admin.get("/api/patient/999999").status_code == 404
    assert admin.get("/api/patient/99999999999999999999").status_code == 400  # never an id (past 64 bits)
    not_allowed = admin.put("/api/patient/1", json={})
    assert not_allowed.status_code == 405 and not_allowed.json()["errors"][0]["code"] == "method_not_allowed"
    unauthenticated = clinic.anonymous().get("/api/patient")
    assert unauthenticated.status_code == 401 and unauthenticated.json()["errors"]
    bad_token = clinic.anonymous().get("/api/patient", headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401
    unknown_field = admin.post("/api/patient", json={"name": "X", "phone": "13900000004", "secret": 1})
    assert unknown_field.status_code == 422
    assert unknown_field.json()["errors"][0] == {
        "field": "secret",
        "code": "unknown_field",
        "message": unknown_field.json()["errors"][0]["message"],
    }


def test_export_is_for_export_roles_only_and_audited(clinic):
    response = clinic.api("admin").get("/api/patient/export.csv", params={"stage": "active"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,name,") and len(lines) == 3
    with clinic.runtime.engine.connect() as conn:
        row = conn.execute(sa.select(audit).where(audit.c.action == "export")).one()
    assert row.entity == "patient" and row.actor == "token:test-admin"
    assert json.loads(row.detail)["rows"] == 2
    for role in ("doctor", "nurse", "front_desk", "marketing", "analyst"):
        assert clinic.api(role).get("/api/patient/export.csv").status_code == 403, role


def test_export_neutralises_spreadsheet_formulas(clinic):
    api = clinic.api("admin")
    assert api.post("/api/patient", json={"name": '=HYPERLINK("http://x")', "phone": "13900000005"}).status_code == 201
    text = api.get("/api/patient/export.csv").text
    assert "'=HYPERLINK" in text


def test_openapi_and_docs_are_served(clinic):
    spec = clinic.anonymous().get("/api/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    assert {"/api/patient", "/api/patient/{id}", "/api/patient/export.csv"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert schemas["PatientCreate"]["required"] == ["name", "phone"]
    assert "age" not in schemas["PatientCreate"]["properties"]  # computed: read only
    assert schemas["PatientPatch"]["required"] == ["version"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    docs = clinic.anonymous().get("/api/docs")
    assert docs.status_code == 200 and "/api/patient/{id}" in docs.text


def test_a_token_acting_as_a_doctor_sees_that_doctors_appointments(clinic):
    from builder.accounts import create_token

    roles = clinic.runtime.blueprint.roles
    anonymous_role_token = clinic.api("doctor").get("/api/appointment").json()
    assert anonymous_role_token["total"] == 0  # a role-only token has no account: `user.id` matches nothing
    secret = create_token(clinic.runtime.engine, "li-phone", None, roles=roles, user="doctor")
    client = clinic._client({"Authorization": f"Bearer {secret}"})
    mine = client.get("/api/appointment").json()
    doctor_staff = clinic.data["staff"][0]["id"]
    assert mine["total"] == 2 and {a["doctor"] for a in mine["items"]} == {doctor_staff}
