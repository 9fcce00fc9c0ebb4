"""The audit log: admins only, filters and pages, and no way to change an entry."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from security_helpers import ROLES, login, session_csrf

from builder.accounts import create_token
from builder.system_tables import audit


@pytest.fixture
def entries(runtime, users):
    """Thirty record entries spread over three days, by two people."""
    rows = []
    start = dt.datetime(2026, 2, 25, 8, 0)  # before the fake clock: sign-ins are the newest
    for index in range(30):
        rows.append(
            {
                "at": start + dt.timedelta(hours=index * 2),
                "actor": "dr_wang" if index % 2 else "nurse_li",
                "role": "doctor" if index % 2 else "nurse",
                "address": "10.0.0.5",
                "action": "update" if index % 3 else "create",
                "entity": "patient" if index < 20 else "visit",
                "record_id": index % 5 + 1,
                "changes": '{"stage": ["lead", "active"], "allergies": "changed"}',
                "detail": None,
            }
        )
    with runtime.engine.begin() as conn:
        conn.execute(audit.insert(), rows)
    return rows


def test_audit_page_is_for_admins_only(client, entries):
    assert client.get("/audit").status_code == 303  # anonymous: to the login page
    assert client.get("/api/audit").status_code == 401
    login(client, "dr_wang")
    assert client.get("/audit").status_code == 403
    assert client.get("/api/audit").status_code == 403
    assert client.get("/api/audit").json()["errors"][0]["code"] == "forbidden"


def test_token_with_admin_role_may_read_the_api(runtime, client, entries):
    token = create_token(runtime.engine, "siem-export", "admin", roles=ROLES)
    response = client.get("/api/audit?per_page=5", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and len(response.json()["items"]) == 5


def test_newest_first_and_paged(client, entries):
    login(client, "alice")
    first = client.get("/api/audit?per_page=10").json()
    assert first["total"] == 31 and first["pages"] == 4  # 30 entries + alice's login
    assert first["items"][0]["action"] == "login"
    times = [item["at"] for item in first["items"]]
    assert times == sorted(times, reverse=True)
    second = client.get("/api/audit?per_page=10&page=2").json()
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}


def test_filters(client, entries):
    login(client, "alice")

    def items(query: str) -> list[dict]:
        response = client.get("/api/audit?per_page=200&" + query)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    assert {i["actor"] for i in items("actor=dr_wang")} == {"dr_wang"}
    assert {i["action"] for i in items("action=create")} == {"create"} and len(items("action=create")) == 10
    assert len(items("entity=visit")) == 10
    assert {i["record_id"] for i in items("record_id=3")} == {3}
    day_two = items("date_from=2026-02-26&date_to=2026-02-26")  # a day in the app's timezone (UTC+8)
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert len(day_two) == 12
    assert {dt.datetime.fromisoformat(i["at"]).astimezone(shanghai).date() for i in day_two} == {dt.date(2026, 2, 26)}
    assert items("entity=patient&actor=nurse_li&record_id=1")[0]["changes"] == {
        "stage": ["lead", "active"],
        "allergies": "changed",
    }


def test_bad_filters_are_explained_not_crashed(client, entries):
    login(client, "alice")
    response = client.get("/api/audit?record_id=abc&date_from=yesterday&page=0&per_page=100000")
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"record_id", "date_from", "page", "per_page"}
    page = client.get("/audit?date_to=31/12/2026")
    assert page.status_code == 400 and 'aria-invalid="true"' in page.text


def test_audit_page_lists_and_links_pages(client, entries):
    login(client, "alice")
    page = client.get("/audit?entity=patient&per_page=5", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Audit log" in page.text and "dr_wang" in page.text
    assert "/audit?entity=patient&amp;per_page=5&amp;page=2" in page.text
    chinese = client.get("/audit", headers={"Accept-Language": "zh-CN"})
    assert "审计日志" in chinese.text


def test_no_route_changes_the_audit_trail(runtime, client, entries):
    login(client, "alice")
    headers = {"X-CSRF-Token": session_csrf(client)}
    for path in ("/audit", "/api/audit", "/api/audit/1"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = client.request(method, path, headers=headers)
            assert response.status_code in (404, 405), (method, path)
            if not path.endswith("/1"):
                assert response.status_code == 405
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar_one() == 31


def test_control_characters_in_filters_are_refused(client, entries):
    login(client, "alice")
    response = client.get("/api/audit", params={"actor": "dr\x00wang"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "actor"
