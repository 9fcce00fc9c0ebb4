"""Sessions end when idle or when the account changes; headers protect every response."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from itsdangerous import URLSafeSerializer
from security_helpers import ROLES, SESSION_COOKIE, login
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from builder.accounts import create_token, disable_user, enable_user, revoke_token, set_password
from builder.system_tables import sessions


def test_session_expires_after_idle_minutes(client, clock, settings, users):
    login(client, "alice")
    clock.advance(minutes=settings.session_idle_minutes - 1)
    assert client.get("/").status_code == 200  # activity slides the window
    clock.advance(minutes=settings.session_idle_minutes - 1)
    assert client.get("/").status_code == 200
    clock.advance(minutes=settings.session_idle_minutes + 1)
    response = client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_expired_session_on_the_api_is_401(client, clock, settings, users):
    login(client, "alice")
    clock.advance(minutes=settings.session_idle_minutes + 1)
    response = client.get("/api/ping")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_session_cookie_flags(client, users):
    response = login(client, "alice")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for flag in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1800"):
        assert flag in cookie
    assert "Secure" not in cookie


def test_https_only_sets_secure_and_hsts(runtime, settings):
    from dataclasses import replace

    from security_helpers import build_app
    from starlette.testclient import TestClient

    with TestClient(build_app(runtime, replace(settings, https_only=True)), base_url="https://testserver") as client:
        response = client.get("/login")
        assert "Secure" in response.headers["set-cookie"]
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_forged_cookie_is_ignored(client, users):
    client.cookies.set(SESSION_COOKIE, "eyJ1aWQiOjF9.forged")
    assert client.get("/").status_code == 303


def test_disabled_user_is_locked_out_on_the_next_request(client, runtime, users):
    login(client, "alice")
    assert client.get("/").status_code == 200
    disable_user(runtime.engine, "alice")
    assert client.get("/").status_code == 303
    enable_user(runtime.engine, "alice")
    assert client.get("/").status_code == 303  # the session ended for good


def test_password_change_ends_other_sessions(client, runtime, users):
    login(client, "alice")
    set_password(runtime.engine, "alice", "a brand new password")
    assert client.get("/").status_code == 303
    assert login(client, "alice", "a brand new password").status_code == 303


def test_security_headers_on_every_response(client, users):
    for response in (client.get("/login"), client.get("/"), client.get("/no-such-page"), client.get("/api/ping")):
        headers = response.headers
        csp = headers["content-security-policy"]
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ):
            assert directive in csp
        assert "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_authenticated_responses_are_not_cached(client, users):
    login(client, "alice")
    assert client.get("/").headers["cache-control"] == "no-store"
    assert client.get("/api/ping").headers["cache-control"] == "no-store"


def test_only_static_files_may_be_cached(app, client, users):
    """docs/security.md: "Only `/static/` files may be cached", for anonymous visitors too."""

    async def cacheable(request: Request) -> PlainTextResponse:  # a route that asks to be cached
        return PlainTextResponse("x", headers={"Cache-Control": "public, max-age=86400"})

    app.router.routes.insert(0, Route("/cacheable", cacheable))
    for path in ("/login", "/cacheable", "/nowhere"):  # anonymous: a page with a CSRF token, a route, a 404
        assert client.get(path).headers["cache-control"] == "no-store", path
    assert "no-store" not in client.get("/static/app.css").headers.get("cache-control", "")
    login(client, "alice")
    assert client.get("/cacheable").headers["cache-control"] == "no-store"
    static = client.get("/static/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def test_bearer_token_acts_with_its_role(runtime, client):
    token = create_token(runtime.engine, "reports", "analyst", roles=ROLES)
    response = client.get("/api/ping", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["role"] == "analyst" and response.headers["cache-control"] == "no-store"


def test_revoked_token_stops_working_at_once(runtime, client):
    token = create_token(runtime.engine, "sync", "doctor", roles=ROLES)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/ping", headers=headers).status_code == 200
    revoke_token(runtime.engine, "sync")
    response = client.get("/api/ping", headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "invalid_token"


def test_other_authorization_schemes_are_ignored(client, users):
    basic = {"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="}  # e.g. added by a proxy's own password prompt
    assert client.get("/api/ping", headers=basic).status_code == 401
    login(client, "alice")
    assert client.get("/api/ping", headers=basic).json()["actor"] == "alice"


def test_bearer_header_overrides_a_session_cookie(client, users):
    login(client, "alice")
    assert client.get("/api/ping", headers={"Authorization": "Bearer crm_wrong"}).status_code == 401
    assert client.get("/api/ping", headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/api/ping").json()["actor"] == "alice"  # the session itself is untouched


def test_a_copied_cookie_is_useless_after_sign_out(client, runtime, settings, users):
    from security_helpers import build_app, session_csrf
    from starlette.testclient import TestClient

    login(client, "alice")
    stolen = client.cookies.get(SESSION_COOKIE)
    assert client.post("/logout", data={"csrf_token": session_csrf(client)}).status_code == 303
    with TestClient(build_app(runtime, settings), follow_redirects=False) as thief:
        thief.cookies.set(SESSION_COOKIE, stolen)
        response = thief.get("/")
        assert response.status_code == 303 and response.headers["location"] == "/login"


def test_a_session_ends_after_its_maximum_age_however_active(client, clock, settings, users):
    login(client, "alice")
    step = settings.session_idle_minutes - 1
    for _ in range(settings.session_max_hours * 60 // step):
        clock.advance(minutes=step)
        assert client.get("/").status_code == 200
    clock.advance(minutes=step)
    assert client.get("/").status_code == 303


def test_the_server_keeps_only_a_hash_of_each_sign_ins_session_id(client, runtime, settings, users):
    """docs/security.md: every sign-in is remembered in `crm_session`, "holding only a hash of the session id"."""
    login(client, "alice")
    signer = URLSafeSerializer(settings.secret_key, salt="crm.session")
    cookie = signer.loads(client.cookies[SESSION_COOKIE])
    with runtime.engine.connect() as conn:
        [row] = conn.execute(sa.select(sessions)).all()
    assert row.sid_hash == hashlib.sha256(cookie["sid"].encode()).hexdigest()
    assert not any(cookie["sid"] in str(value) for value in row)
    # A copy of the table opens no session, even to someone who also holds the secret key.
    client.cookies.set(SESSION_COOKIE, signer.dumps({**cookie, "sid": row.sid_hash}))
    assert client.get("/").status_code == 303
    client.cookies.set(SESSION_COOKIE, signer.dumps(cookie))
    assert client.get("/").status_code == 200
