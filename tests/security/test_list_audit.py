"""Lists, searches and exports that return PHI or sensitive fields are audited (issue 8, item 3).

One entry per request (actor, entity, the ids returned, the field names), written by
the record service so pages, API and exports all get it; filter values never go in.
Lists of entities without protected fields write nothing.
"""

from __future__ import annotations

import pytest
from masking_helpers import detail_of, served_clinic

from builder.records import SYSTEM


@pytest.fixture
def clinic(tmp_path, database_url):
    yield from served_clinic(tmp_path, database_url)


def _ids(response) -> list[int]:
    return [item["id"] for item in response.json()["items"]]


def test_a_doctor_listing_patients_by_api_writes_one_entry_with_the_ids(clinic):
    response = clinic.api("doctor").get("/api/patient")
    assert response.status_code == 200 and len(_ids(response)) == 4
    rows = clinic.audit("list")
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor, row.role, row.entity, row.record_id) == ("token:test-doctor", "doctor", "patient", None)
    detail = detail_of(row)
    assert detail["ids"] == _ids(response) and detail["rows"] == 4
    assert {"allergies", "id_number", "phone", "name"} <= set(detail["fields"])
    assert "penicillin" not in row.detail and "1380013" not in row.detail


def test_a_doctor_listing_patients_in_the_page_writes_one_entry(clinic):
    page = clinic.login("doctor").get("/records/patient")
    assert page.status_code == 200 and "Wang Fang" in page.text
    rows = clinic.audit("list")
    assert [(r.actor, r.entity) for r in rows] == [("doctor", "patient")]
    assert sorted(detail_of(rows[0])["ids"]) == sorted(p["id"] for p in clinic.data["patients"])


def test_filter_and_search_values_stay_out_of_the_entry(clinic):
    response = clinic.api("doctor").get("/api/patient", params={"stage": "active", "q": "Zhang", "sort": "name"})
    assert response.status_code == 200 and response.json()["total"] == 1
    row = clinic.audit("list")[0]
    detail = detail_of(row)
    assert detail["filters"] == ["stage"] and detail["search"] is True and detail["ids"] == _ids(response)
    assert "active" not in row.detail and "Zhang" not in row.detail


def test_front_desk_views_of_masked_fields_count(clinic):
    api = clinic.api("front_desk")
    assert api.get("/api/patient").status_code == 200
    assert [detail_of(r)["fields"] for r in clinic.audit("list")] == [
        ["age", "birth_date", "channel", "gender", "name", "phone", "primary_doctor", "stage"]
    ]
    patient = clinic.data["patients"][0]["id"]
    assert api.get(f"/api/patient/{patient}").status_code == 200
    assert [(r.action, r.record_id) for r in clinic.audit("view")] == [("view", patient)]


def test_lists_without_protected_fields_write_nothing(clinic):
    assert clinic.api("doctor").get("/api/staff").json()["total"] == 2
    assert clinic.api("front_desk").get("/api/appointment").json()["total"] == 4
    assert clinic.api("nurse").get("/api/visit").json()["total"] == 1  # the diagnosis is not the nurse's to read
    assert clinic.login("front_desk").get("/records/appointment").status_code == 200
    assert clinic.api("doctor").get("/api/patient", params={"name": "nobody"}).json()["total"] == 0
    assert clinic.audit("list") == []


def test_a_page_of_many_records_is_one_entry(clinic):
    service = clinic.runtime.records
    for n in range(60):
        service.create(SYSTEM, "patient", {"name": f"Patient {n}", "phone": f"1390000{n:04d}", "allergies": "dust"})
    response = clinic.api("doctor").get("/api/patient", params={"limit": 50})
    assert response.status_code == 200 and len(_ids(response)) == 50
    rows = clinic.audit("list")
    assert len(rows) == 1 and detail_of(rows[0])["ids"] == _ids(response)


def test_an_export_is_one_entry_with_the_ids_and_no_filter_values(clinic):
    response = clinic.api("admin").get("/api/patient/export.csv", params={"stage": "active"})
    assert response.status_code == 200
    assert clinic.audit("list") == []
    rows = clinic.audit("export")
    assert len(rows) == 1
    detail = detail_of(rows[0])
    active = sorted(p["id"] for p in clinic.data["patients"] if p["stage"] == "active")
    assert sorted(detail["ids"]) == active and detail["rows"] == 2 and detail["filters"] == ["stage"]
    assert "id_number" in detail["fields"] and "active" not in rows[0].detail


def test_every_export_is_audited_even_without_protected_fields(clinic):
    """docs/security.md: `export` is written for "a CSV or XLSX export of a list (always)"."""
    admin = clinic.api("admin")
    assert admin.get("/api/staff/export.csv").status_code == 200  # staff has no PHI, sensitive or encrypted field
    assert admin.get("/api/staff/export.xlsx").status_code == 200
    assert admin.get("/api/staff/export.csv", params={"name": "nobody"}).status_code == 200  # no rows at all
    assert clinic.audit("list") == []
    rows = clinic.audit("export")
    assert [(r.entity, r.actor) for r in rows] == [("staff", "token:test-admin")] * 3  # API tokens as token:<name>
    staff = sorted(s["id"] for s in clinic.data["staff"])
    details = [detail_of(r) for r in rows]
    assert [(sorted(d["ids"]), d["rows"]) for d in details] == [(staff, 2), (staff, 2), ([], 0)]
    assert details[2]["filters"] == ["name"] and "nobody" not in rows[2].detail
