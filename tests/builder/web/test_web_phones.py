"""Phones over the API and on pages: E.164 in JSON, national form on pages, found however typed."""

from __future__ import annotations

import re


def _create(clinic, phone: str):
    return clinic.api("admin").post("/api/patient", json={"name": "Sun Li", "phone": phone, "gender": "female"})


def test_api_round_trip_stores_e164(clinic):
    created = _create(clinic, "139 1234 5678")
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["phone"] == "+8613912345678"
    assert clinic.api("admin").get(f"/api/patient/{record['id']}").json()["phone"] == "+8613912345678"
    assert clinic.api("front_desk").get(f"/api/patient/{record['id']}").json()["phone"] == "139****5678"
    for typed in ("13912345678", "+86 139 1234 5678", "１３９１２３４５６７８"):
        for role in ("admin", "front_desk"):
            found = clinic.api(role).get("/api/patient", params={"q": typed}).json()
            assert [r["id"] for r in found["items"]] == [record["id"]], (role, typed)


def test_api_refuses_what_is_not_a_phone(clinic):
    short = _create(clinic, "12345")
    assert short.status_code == 422 and "phone" in short.text
    wordy = _create(clinic, "call me maybe")
    assert wordy.status_code == 422


def test_openapi_phone_has_a_pattern(clinic):
    spec = clinic.anonymous().get("/api/openapi.json").json()
    phone = spec["components"]["schemas"]["PatientCreate"]["properties"]["phone"]
    assert phone["pattern"] and phone["minLength"] == 5 and phone["maxLength"] == 20
    assert re.match(phone["pattern"], "+86 139-1234-5678") and not re.match(phone["pattern"], "call me")


def test_pages_show_the_national_form(clinic):
    record = _create(clinic, "+8613912345678").json()
    admin_page = clinic.login("admin").get(f"/records/patient/{record['id']}").text
    assert "139 1234 5678" in admin_page and "+8613912345678" not in admin_page
    listed = clinic.login("admin").get("/records/patient").text
    assert "139 1234 5678" in listed
    desk_page = clinic.login("front_desk").get(f"/records/patient/{record['id']}").text
    assert "139****5678" in desk_page and "13912345678" not in desk_page and "+8613912345678" not in desk_page


def test_the_edit_form_shows_the_national_form(clinic):
    record = _create(clinic, "+8613912345678").json()
    admin = clinic.login("admin")
    form = admin.get(f"/records/patient/{record['id']}/edit").text
    assert 'value="139 1234 5678"' in form and "+8613912345678" not in form
    assert clinic.api("admin").get(f"/api/patient/{record['id']}").json()["phone"] == "+8613912345678"
