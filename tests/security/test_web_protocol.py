"""HTTP answers that tell the truth: 401 before CSRF for nobody, a full `Allow`, headers on a 500,
and a rule that cannot run explained in words, never with a Python error text."""

from __future__ import annotations

import logging

import pytest
from starlette.requests import Request
from starlette.routing import Route
from web_hardening_helpers import serve

BLUEPRINT = """
app: {name: t, locales: [en, zh-CN], timezone: Asia/Shanghai}
roles:
  admin: {title: Admin}
entities:
  person:
    title_field: name
    fields:
      name: {type: text, required: true, label: {en: Name, zh-CN: 姓名}}
      birth_date: {type: date, label: {en: Birth date, zh-CN: 出生日期}}
      offset: {type: integer, label: {en: Offset, zh-CN: 偏移}}
      review_on: {type: date, compute: "birth_date + days(offset)", label: {en: Review day, zh-CN: 复查日}}
      check_after: {type: integer, label: {en: Check after, zh-CN: 检查天数}}
    validations:
      - rule: "check_after == null or birth_date + days(check_after) > date('1900-01-01')"
        fields: [check_after]
        message: {en: The check must fall after 1900, zh-CN: 检查日期须在1900年之后}
    permissions:
      admin: {read: all, write: all, create: true, delete: true, export: true}
"""


@pytest.fixture
def served(tmp_path, database_url):
    made = serve(tmp_path, database_url, BLUEPRINT)
    yield made
    made.close()


@pytest.fixture
def clinic(tmp_path, database_url):
    made = serve(tmp_path, database_url)
    yield made
    made.close()


def test_unsafe_api_calls_from_nobody_are_401_not_csrf(clinic):
    anonymous = clinic.client()
    for method, path in (("POST", "/api/patient"), ("PATCH", "/api/patient/1"), ("DELETE", "/api/patient/1")):
        response = anonymous.request(method, path, json={"name": "x"})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["errors"][0]["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_signed_in_browser_still_needs_its_csrf_token_on_the_api(clinic):
    browser = clinic.login("alice", "admin")
    refused = browser.post("/api/patient", json={"name": "x"})
    assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "csrf"


def test_405_allows_every_method_the_path_serves(clinic):
    api = clinic.token("admin")
    assert api.delete("/api/patient").headers["allow"] == "GET, HEAD, POST"
    assert api.put("/api/patient/1").headers["allow"] == "GET, HEAD, PATCH, DELETE"
    refused = api.put("/login")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD, POST"


def test_post_to_the_audit_api_is_405(clinic):
    api = clinic.token("admin")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = api.request(method, "/api/audit", json={"action": "login"})
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == "GET, HEAD"
        assert response.json()["errors"][0]["code"] == "method_not_allowed"


def test_a_500_carries_the_security_headers_and_a_request_id(clinic):
    async def boom(request: Request):
        raise RuntimeError("a bug")

    clinic.app.router.routes.insert(0, Route("/boom", boom))
    clinic.app.router.routes.insert(0, Route("/api/boom", boom))
    browser = clinic.login("alice", "admin")
    for path in ("/boom", "/api/boom"):
        response = browser.get(path)
        assert response.status_code == 500
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-request-id"] in response.text
        assert "a bug" not in response.text


def test_a_computed_field_that_cannot_be_worked_out_names_the_field_not_python(served, caplog):
    api = served.token("admin")
    with caplog.at_level(logging.WARNING, logger="builder.records"):
        response = api.post("/api/person", json={"name": "Wang", "birth_date": "1990-01-01", "offset": 10**7})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "review_on" and error["code"] == "rule_failed"
    assert "Review day" in error["message"]
    for python_text in ("OverflowError", "out of range", "failed:", "birth_date +"):
        assert python_text not in response.text
    request_id = response.headers["x-request-id"]
    logged = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
    assert logged and "date value out of range" in logged[0]


def test_a_validation_that_cannot_run_shows_its_own_message(served, caplog):
    api = served.token("admin")
    with caplog.at_level(logging.WARNING, logger="builder.records"):
        response = api.post(
            "/api/person",
            json={"name": "Wang", "birth_date": "1990-01-01", "check_after": 10**7},
            headers={"Accept-Language": "zh-CN"},
        )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "check_after", "code": "rule_failed", "message": "检查日期须在1900年之后"}
    ]
    assert any(
        response.headers["x-request-id"] in r.getMessage() and "out of range" in r.getMessage() for r in caplog.records
    )
