"""CSRF: unsafe methods need the session's token (form field or header) unless a bearer token signs them."""

from __future__ import annotations

from security_helpers import ROLES, login, session_csrf

from builder.accounts import create_token


def test_form_post_without_token_is_refused_with_a_page(client, users):
    login(client, "alice")
    response = client.post("/echo", data={"name": "x"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")


def test_form_post_with_wrong_token_is_refused(client, users):
    login(client, "alice")
    assert client.post("/echo", data={"name": "x", "csrf_token": "forged"}).status_code == 403


def test_form_post_with_token_reaches_the_endpoint_with_its_body(client, users):
    login(client, "alice")
    token = session_csrf(client)
    response = client.post("/echo", data={"name": "王小明", "csrf_token": token})
    assert response.status_code == 200
    assert response.json()["form"] == {"name": "王小明", "csrf_token": token}


def test_multipart_form_with_token_keeps_its_files(client, users):
    login(client, "alice")
    token = session_csrf(client)
    response = client.post(
        "/echo",
        data={"csrf_token": token, "note": "scan"},
        files={"upload": ("report.pdf", b"%PDF-1.4 " + b"x" * 200_000, "application/pdf")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["files"] == ["report.pdf"] and response.json()["form"]["note"] == "scan"


def test_api_call_with_cookie_needs_the_header_token(client, users):
    login(client, "alice")
    refused = client.post("/api/echo", json={"a": 1})
    assert refused.status_code == 403
    assert refused.json() == {
        "errors": [{"field": "__all__", "code": "csrf", "message": refused.json()["errors"][0]["message"]}]
    }
    accepted = client.post("/api/echo", json={"a": 1}, headers={"X-CSRF-Token": session_csrf(client)})
    assert accepted.status_code == 200 and accepted.json() == {"actor": "alice", "json": {"a": 1}}


def test_every_unsafe_method_is_checked(client, users):
    login(client, "alice")
    for method in ("PUT", "PATCH", "DELETE"):
        assert client.request(method, "/api/echo").status_code == 403, method


def test_bearer_token_needs_no_csrf_token(runtime, client):
    token = create_token(runtime.engine, "lab-import", "nurse", roles=ROLES)
    response = client.post("/api/echo", json={"b": 2}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"actor": "token:lab-import", "json": {"b": 2}}
    assert "set-cookie" not in response.headers  # programs get no session


def test_invalid_bearer_token_is_401_not_a_csrf_refusal(client):
    response = client.post("/api/echo", json={}, headers={"Authorization": "Bearer crm_nonsense"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["code"] == "invalid_token"


def test_garbled_form_body_is_refused_not_crashed(client, users):
    login(client, "alice")
    response = client.post(
        "/echo", content=b"--x\r\nbroken", headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert response.status_code == 403


def test_too_large_form_is_refused(runtime, settings):
    from dataclasses import replace

    from security_helpers import build_app
    from starlette.testclient import TestClient

    small = replace(settings, max_form_bytes=1000)
    with TestClient(build_app(runtime, small), follow_redirects=False) as client:
        client.get("/login")
        response = client.post("/echo", data={"x": "y" * 5000})
        assert response.status_code == 413
