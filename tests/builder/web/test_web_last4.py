"""`last4_search` through the real app: an encrypted patient phone found by "尾号", never shown (issue 12).

The clinic copied with its patient phone `encrypted: true, last4_search: true` and
seeded by clinic_fixtures (Wang Fang 138 0013 0000, Zhang Wei …0001, Liu Yang …0002,
Chen Jing …0003). The doctor (full access) finds Zhang Wei by `0001` in the list and
in global search, the front desk (phone masked) finds nothing by 4 digits but the
caller by the whole number; the `__last4` column appears in no response or export, and
the search is audited like any list.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clinic_fixtures import ServedClinic, clinic_copy

PHONE_LINE = "    phone:       {type: phone, region: CN, required: true, unique: true, sensitive: true,"


def encrypt_the_phone(blueprint: Path) -> None:
    path = blueprint / "entities" / "patient.yaml"
    text = path.read_text(encoding="utf-8")
    assert PHONE_LINE in text and "  search: [name, phone]\n" in text
    opted_in = PHONE_LINE.replace("sensitive: true,", "sensitive: true, encrypted: true, last4_search: true,")
    text = text.replace(PHONE_LINE, opted_in)
    path.write_text(text.replace("  search: [name, phone]\n", "  search: [name]\n"), encoding="utf-8")


@pytest.fixture
def clinic(tmp_path, database_url):
    with clinic_copy(tmp_path, database_url, encrypt_the_phone) as made:
        yield made


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(item["name"] for item in response.json()["items"])


def groups(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.text
    return {g["entity"]: [r.get("name") for r in g["items"]] for g in response.json()["groups"]}


def test_full_access_finds_the_patient_by_the_last_4_digits_a_masked_role_does_not(clinic: ServedClinic):
    doctor, desk = clinic.api("doctor"), clinic.api("front_desk")
    assert names(doctor.get("/api/patient", params={"q": "0001"})) == ["Zhang Wei"]
    assert groups(doctor.get("/api/search", params={"q": "0001"})) == {"patient": ["Zhang Wei"]}
    assert names(desk.get("/api/patient", params={"q": "0001"})) == []
    assert groups(desk.get("/api/search", params={"q": "0001"})) == {}
    assert names(desk.get("/api/patient", params={"q": "138 0013 0001"})) == ["Zhang Wei"]  # whole: counted
    reads = [r for r in clinic.audit("list") if r.entity == "patient" and r.actor == "token:test-doctor"]
    assert reads and json.loads(reads[-1].detail)["ids"] == [clinic.data["patients"][1]["id"]]
    assert "0001" not in reads[-1].detail  # the names of what was used, never the value


def test_the_hash_is_in_no_response_or_export(clinic: ServedClinic):
    admin = clinic.api("admin")
    zhang = clinic.data["patients"][1]["id"]
    listed = admin.get("/api/patient", params={"q": "0001"})
    record = admin.get(f"/api/patient/{zhang}", params={"explain": "1"})
    exported = admin.get("/api/patient/export.csv")
    for response in (listed, record, exported):
        assert response.status_code == 200, response.text
        assert "__last4" not in response.text and "__hash" not in response.text
    assert record.json()["phone"] == "+8613800130001"
    assert "+8613800130001" in exported.text
