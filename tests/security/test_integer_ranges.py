"""Integers outside what a column holds are a 400/422 naming the parameter or field, never a 500.

Ids, links and child rows' parent keys are 64-bit on every database; an integer
field keeps the range its type publishes. The attack run found PostgreSQL answering
500 for `{"patient": 2147483648}` and `?primary_doctor=9007199254740991` (32-bit
columns) and SQLite for `?id=10000000000000000000` (past 64 bits).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from limits_helpers import limits_clinic

from engines.forms import ID_MAX, INT_LIMIT

TOO_BIG = 10_000_000_000_000_000_000  # past 2**63


@pytest.fixture
def clinic(tmp_path, database_url):
    with limits_clinic(tmp_path, database_url) as made:
        yield made


def _fields(response) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


def test_link_past_32_bits_is_a_missing_record_not_a_crash(clinic):
    doctor = clinic.data["staff"][0]["id"]
    response = clinic.api("admin").post(
        "/api/appointment",
        json={"patient": 2147483648, "doctor": doctor, "starts_at": "2026-04-01T09:00", "channel": "phone"},
    )
    assert response.status_code == 422, response.text
    assert "patient" in _fields(response)


def test_link_past_64_bits_is_a_422_in_the_body(clinic):
    doctor = clinic.data["staff"][0]["id"]
    response = clinic.api("admin").post(
        "/api/appointment",
        json={"patient": TOO_BIG, "doctor": doctor, "starts_at": "2026-04-01T09:00", "channel": "phone"},
    )
    assert response.status_code == 422, response.text
    assert _fields(response) == {"patient"}


def test_link_filter_past_32_bits_finds_nothing(clinic):
    response = clinic.api("admin").get("/api/patient?primary_doctor=9007199254740991")
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        f"id={TOO_BIG}",
        f"id__gte={TOO_BIG}",
        f"id__in=1,{TOO_BIG}",
        f"id=-{TOO_BIG}",
        f"primary_doctor={TOO_BIG}",
        f"primary_doctor={2**63}",
    ],
)
def test_filter_past_64_bits_is_a_400(clinic, query):
    response = clinic.api("admin").get(f"/api/patient?{query}")
    assert response.status_code == 400, response.text
    assert _fields(response) == {query.partition("=")[0]}


def test_ids_up_to_the_64_bit_limit_are_accepted(clinic):
    response = clinic.api("admin").get(f"/api/patient?id={ID_MAX}")
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
    assert clinic.api("admin").get(f"/api/patient/{ID_MAX}").status_code == 404


def test_record_id_past_64_bits_in_the_path_is_a_400(clinic):
    admin = clinic.api("admin")
    for method in ("get", "patch", "delete"):
        response = admin.request(method.upper(), "/api/patient/99999999999999999999", json={"version": 1})
        assert response.status_code == 400, (method, response.text)
        assert _fields(response) == {"id"}


@pytest.mark.parametrize("value", [INT_LIMIT + 1, 2**63, TOO_BIG, -TOO_BIG])
def test_integer_field_out_of_range_is_a_422_in_the_body(clinic, value):
    visit = clinic.data["visit"]
    response = clinic.api("admin").patch(
        f"/api/visit/{visit['id']}", json={"version": visit["version"], "wait_minutes": value}
    )
    assert response.status_code == 422, response.text
    assert _fields(response) == {"wait_minutes"}


@pytest.mark.parametrize(
    "query", [f"wait_minutes={TOO_BIG}", f"wait_minutes__gte={2**63}", f"satisfaction__lte=-{TOO_BIG}"]
)
def test_integer_field_filter_out_of_range_is_a_400(clinic, query):
    response = clinic.api("admin").get(f"/api/visit?{query}")
    assert response.status_code == 400, response.text
    assert _fields(response) == {query.partition("=")[0]}


def test_child_row_id_past_64_bits_is_a_422(clinic):
    visit = clinic.data["visit"]
    response = clinic.api("admin").patch(
        f"/api/visit/{visit['id']}",
        json={"version": visit["version"], "prescriptions": [{"id": TOO_BIG, "drug": "Aspirin", "days": 7}]},
    )
    assert response.status_code == 422, response.text


def test_ids_and_links_are_64_bit_columns(clinic):
    if clinic.runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's INTEGER is 64-bit already")
    columns = {(c["name"]): str(c["type"]) for c in sa.inspect(clinic.runtime.engine).get_columns("appointment")}
    assert columns["id"] == "BIGINT" and columns["patient"] == "BIGINT"
    children = {
        c["name"]: str(c["type"]) for c in sa.inspect(clinic.runtime.engine).get_columns("visit__prescriptions")
    }
    assert children["id"] == "BIGINT" and children["parent_id"] == "BIGINT"


def test_openapi_publishes_the_ranges(clinic):
    document = clinic.api("admin").get("/api/openapi.json").json()
    path_id = document["paths"]["/api/patient/{id}"]["parameters"][0]["schema"]
    assert path_id == {"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX}
    create = document["components"]["schemas"]["AppointmentCreate"]["properties"]
    assert create["patient"]["format"] == "int64" and create["patient"]["maximum"] == ID_MAX
    visit = document["components"]["schemas"]["VisitCreate"]["properties"]
    wait = visit["wait_minutes"]["anyOf"][0]
    assert (wait["minimum"], wait["maximum"]) == (0, 600)
