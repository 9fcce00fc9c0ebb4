"""Oversized requests are refused early: bodies while they stream in, child rows before any write.

The attack run saw a 100 MB body read whole before its 413, and a visit with 30,000
child rows hold SQLite's write lock for 11 s. Bodies go through the real ASGI app
(httpx's ASGITransport hands the body over chunk by chunk, as a server does), with a
generator that counts how much of the body the app pulled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from limits_helpers import limits_clinic

from builder.records import SYSTEM, ValidationFailed

CHUNK = 64 * 1024
HUGE = 100 * 1024 * 1024


@pytest.fixture
def clinic(tmp_path, sqlite_url):
    with limits_clinic(tmp_path, sqlite_url, max_form_bytes=200_000) as made:
        yield made


class CountingBody:
    """A streamed request body of `total` bytes that records how many bytes were pulled."""

    def __init__(self, total: int, filler: bytes = b" "):
        self.total, self.filler, self.consumed = total, filler, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.consumed < self.total:
            chunk = self.filler * min(CHUNK, self.total - self.consumed)
            self.consumed += len(chunk)
            yield chunk


def _send(clinic, method: str, path: str, body: CountingBody, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=clinic.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, path, content=body, headers=headers)

    return asyncio.run(go())


def _bearer(clinic, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {clinic.tokens['admin']}", "Content-Type": "application/json", **extra}


@pytest.mark.timeout(60)
def test_chunked_json_body_over_the_cap_is_refused_before_it_is_read(clinic):
    body = CountingBody(HUGE)
    response = _send(clinic, "POST", "/api/patient", body, _bearer(clinic))
    assert response.status_code == 413, response.text
    assert response.json()["errors"][0]["code"] == "too_large"
    assert body.consumed <= 1_000_000 + CHUNK, f"read {body.consumed:,} bytes of a {HUGE:,}-byte body"


@pytest.mark.timeout(60)
def test_declared_content_length_over_the_cap_is_refused_unread(clinic):
    body = CountingBody(2_000_000)
    response = _send(
        clinic,
        "PATCH",
        f"/api/patient/{clinic.data['patients'][0]['id']}",
        body,
        _bearer(clinic, **{"Content-Length": "2000000"}),
    )
    assert response.status_code == 413, response.text
    assert body.consumed == 0


@pytest.mark.timeout(60)
def test_form_body_over_its_own_cap_is_refused_while_streaming(clinic):
    body = CountingBody(HUGE, b"a")
    response = _send(clinic, "POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert body.consumed <= 200_000 + CHUNK
    declared = CountingBody(300_000, b"a")
    response = _send(
        clinic,
        "POST",
        "/login",
        declared,
        {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "300000"},
    )
    assert response.status_code == 413 and declared.consumed == 0


@pytest.mark.timeout(60)
def test_the_json_cap_is_a_setting(tmp_path, sqlite_url):
    with limits_clinic(tmp_path, sqlite_url, max_body_bytes=50_000) as small:
        padded = b'{"name": "' + b"x" * 60_000 + b'"}'
        response = small.api("admin").post("/api/patient", content=padded, headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        ordinary = small.api("admin").post("/api/patient", json={"name": "Ma Li", "phone": "13800138999"})
        assert ordinary.status_code == 201, ordinary.text


def _counts(clinic) -> tuple[int, int]:
    with clinic.runtime.engine.connect() as connection:
        return (
            connection.execute(sa.text("SELECT count(*) FROM visit")).scalar_one(),
            connection.execute(sa.text("SELECT count(*) FROM visit__prescriptions")).scalar_one(),
        )


def _visit(clinic, rows: int) -> dict:
    return {
        "patient": clinic.data["patients"][0]["id"],
        "doctor": clinic.data["staff"][0]["id"],
        "visited_at": "2026-03-02T10:00",
        "prescriptions": [{"drug": f"drug {i}", "days": 1} for i in range(rows)],
    }


@pytest.fixture
def any_clinic(tmp_path, database_url):
    with limits_clinic(tmp_path, database_url) as made:
        yield made


def test_501_child_rows_are_a_422_and_nothing_is_written(any_clinic):
    before = _counts(any_clinic)
    response = any_clinic.api("admin").post("/api/visit", json=_visit(any_clinic, 501))
    assert response.status_code == 422, response.text
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("prescriptions", "too_many_rows")]
    assert "500" in response.json()["errors"][0]["message"]
    visit = any_clinic.data["visit"]
    patch = any_clinic.api("admin").patch(
        f"/api/visit/{visit['id']}",
        json={"version": visit["version"], "prescriptions": _visit(any_clinic, 501)["prescriptions"]},
    )
    assert patch.status_code == 422, patch.text
    assert _counts(any_clinic) == before


def test_the_record_service_refuses_too_many_rows_for_every_caller(any_clinic):
    before = _counts(any_clinic)
    with pytest.raises(ValidationFailed) as refused:
        any_clinic.runtime.records.create(SYSTEM, "visit", _visit(any_clinic, 501))
    assert [(e.field, e.code) for e in refused.value.errors] == [("prescriptions", "too_many_rows")]
    assert _counts(any_clinic) == before
    made = any_clinic.runtime.records.create(SYSTEM, "visit", _visit(any_clinic, 500))
    assert len(made["prescriptions"]) == 500


def test_openapi_publishes_the_row_cap(any_clinic):
    document = any_clinic.api("admin").get("/api/openapi.json").json()
    rows = document["components"]["schemas"]["VisitCreate"]["properties"]["prescriptions"]
    assert rows["maxItems"] == 500


def test_caps_come_from_crm_toml_and_are_checked(tmp_path):
    from builder.errors import ProjectError
    from builder.project import Project
    from builder.web.security import SecuritySettings

    project = Project(tmp_path, {"security": {"max_body_bytes": 2048, "max_form_bytes": 4096}})
    settings = SecuritySettings.from_project(project, environ={"CRM_SECRET_KEY": "k" * 40})
    assert (settings.max_body_bytes, settings.max_form_bytes) == (2048, 4096)
    assert SecuritySettings(secret_key="k" * 40).max_body_bytes == 1_000_000
    with pytest.raises(ProjectError, match="max_body_bytes"):
        SecuritySettings(secret_key="k" * 40, max_body_bytes=0)
