"""The list API's counts, keyset paging and sparse fields, as a client sees them (issue 12)."""

from __future__ import annotations


def test_sparse_fields_come_back_alone_and_hidden_ones_look_missing(clinic):
    admin = clinic.api("admin")
    body = admin.get("/api/patient", params={"fields": "name,phone", "limit": 2}).json()
    assert {key for item in body["items"] for key in item} == {
        "id",
        "name",
        "phone",
        "version",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    }
    desk = clinic.api("front_desk")  # may not read allergies
    hidden = desk.get("/api/patient", params={"fields": "name,allergies"})
    missing = desk.get("/api/patient", params={"fields": "name,no_such_field"})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json() == missing.json()


def test_keyset_paging_and_count_modes_through_the_api(clinic):
    admin = clinic.api("admin")
    first = admin.get("/api/patient", params={"sort": "name", "limit": 2, "count": "exact"}).json()
    assert first["total_kind"] == "exact" and first["next_after"]
    names = [p["name"] for p in first["items"]]
    cursor = first["next_after"]
    while cursor:
        page = admin.get("/api/patient", params={"sort": "name", "limit": 2, "after": cursor, "count": "none"}).json()
        assert page["total"] is None and page["total_kind"] == "none"
        names += [p["name"] for p in page["items"]]
        cursor = page["next_after"]
    everyone = admin.get("/api/patient", params={"sort": "name", "limit": 500}).json()
    assert names == [p["name"] for p in everyone["items"]] and len(names) == first["total"]
    bad = admin.get("/api/patient", params={"after": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "after"
    assert admin.get("/api/patient", params={"count": "roughly"}).status_code == 400


def test_openapi_documents_the_new_parameters_and_page_shape(clinic):
    doc = clinic.api("admin").get("/api/openapi.json").json()
    params = {p["name"] for p in doc["paths"]["/api/patient"]["get"]["parameters"]}
    assert {"after", "count", "fields"} <= params
    page = doc["components"]["schemas"]["PatientPage"]
    assert {"total_kind", "next_after"} <= set(page["required"])
