"""Signing in and out: audit entries, no session fixation, no open redirects, throttling."""

from __future__ import annotations

from security_helpers import PASSWORD, ROLES, SESSION_COOKIE, audit_rows, csrf_from_login_page, login, session_csrf
from starlette.testclient import TestClient

from builder.accounts import add_user, disable_user


def test_login_page_is_localized_and_carries_a_csrf_token(client):
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert page.status_code == 200
    assert "用户名" in page.text and 'name="csrf_token"' in page.text
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert "User name" in english.text


def test_anonymous_page_redirects_to_login_with_next(client):
    response = client.get("/patients?page=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fpatients%3Fpage%3D2"


def test_successful_login_is_audited_and_redirects_to_next(client, runtime, users):
    response = login(client, "alice", next_path="/patients?page=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/patients?page=2"
    assert "hello alice (admin)" in client.get("/").text
    [entry] = audit_rows(runtime, action="login")
    assert (entry.actor, entry.role, entry.address) == ("alice", "admin", "testclient")
    assert PASSWORD not in str(tuple(entry))


def test_failed_login_is_audited_without_the_password(client, runtime, users):
    response = login(client, "alice", "wrong password 123")
    assert response.status_code == 400
    assert "Wrong user name or password" in response.text or "用户名或密码错误" in response.text
    [entry] = audit_rows(runtime, action="login_failed")
    assert entry.actor == "alice" and entry.address == "testclient"
    assert "wrong password 123" not in str(tuple(entry))
    assert client.get("/").status_code == 303  # still signed out


def test_unknown_and_disabled_users_cannot_sign_in(client, runtime, users):
    assert login(client, "nobody").status_code == 400
    disable_user(runtime.engine, "dr_wang")
    assert login(client, "dr_wang").status_code == 400
    assert [r.actor for r in audit_rows(runtime, action="login_failed")] == ["nobody", "dr_wang"]


def test_missing_fields_are_refused_without_error(client, users):
    token = csrf_from_login_page(client)
    assert client.post("/login", data={"csrf_token": token}).status_code == 400
    assert client.post("/login", data={"csrf_token": token, "username": "alice"}).status_code == 400


def test_login_gives_a_new_session_and_csrf_token(client, users):
    anonymous_token = csrf_from_login_page(client)
    before = client.cookies.get(SESSION_COOKIE)
    response = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": anonymous_token})
    assert response.status_code == 303
    after = client.cookies.get(SESSION_COOKIE)
    assert after and after != before
    assert session_csrf(client) != anonymous_token


def test_planted_anonymous_cookie_does_not_become_the_signed_in_session(app, users):
    with TestClient(app, follow_redirects=False) as attacker, TestClient(app, follow_redirects=False) as victim:
        csrf_from_login_page(attacker)
        planted = attacker.cookies.get(SESSION_COOKIE)
        victim.cookies.set(SESSION_COOKIE, planted)
        assert login(victim, "alice").status_code == 303
        attacker.cookies.set(SESSION_COOKIE, planted)
        assert attacker.get("/").status_code == 303  # the planted session is still anonymous


def test_login_requires_csrf_token(client, users):
    client.get("/login")
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/").status_code == 303


def test_open_redirects_are_refused(client, users):
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "\\\\evil"):
        client.cookies.clear()
        response = login(client, "alice", next_path=evil)
        assert response.status_code == 303
        assert response.headers["location"] == "/", evil


def test_login_page_ignores_absolute_next(client):
    page = client.get("/login?next=https://evil.example/")
    assert "evil.example" not in page.text


def test_logout_clears_the_session(client, runtime, users):
    login(client, "alice")
    token = session_csrf(client)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/").status_code == 303
    assert [r.actor for r in audit_rows(runtime, action="logout")] == ["alice"]


def test_throttled_per_account_even_with_the_right_password(client, runtime, settings, clock, users):
    for _ in range(settings.login_max_failures):
        assert login(client, "alice", "wrong password!!").status_code == 400
    refused = login(client, "alice")
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert "15" in refused.text
    assert client.get("/").status_code == 303
    assert audit_rows(runtime, action="login_failed")[-1].detail == "throttled"
    assert login(client, "dr_wang").status_code == 303  # other accounts are unaffected
    clock.advance(minutes=settings.login_window_minutes + 1)
    client.cookies.clear()
    assert login(client, "alice").status_code == 303


def test_throttled_per_address(client, settings, clock, users):
    for index in range(settings.login_max_failures_per_address):
        assert login(client, f"guess{index}", "wrong password!!").status_code == 400
    assert login(client, "alice").status_code == 429
    clock.advance(minutes=settings.login_window_minutes + 1)
    assert login(client, "alice").status_code == 303


def test_throttle_counts_names_case_insensitively(client, settings, users):
    for name in ("Alice", "ALICE", "alice"):
        login(client, name, "wrong password!!")
    assert login(client, "alice").status_code == 429


def test_locale_switch_for_anonymous_users(client):
    token = csrf_from_login_page(client)
    response = client.post("/locale", data={"locale": "en", "csrf_token": token, "next": "/login"})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "User name" in client.get("/login", headers={"Accept-Language": "zh-CN"}).text
    client.post("/locale", data={"locale": "zh-CN", "csrf_token": token})
    assert "用户名" in client.get("/login", headers={"Accept-Language": "en"}).text
    assert client.post("/locale", data={"locale": "fr", "csrf_token": token}).status_code == 400


def test_large_text_toggle(client):
    token = csrf_from_login_page(client)
    assert '<body class="">' in client.get("/login").text
    assert client.post("/large-text", data={"csrf_token": token}).status_code == 303
    assert '<body class="large-text">' in client.get("/login").text
    client.post("/large-text", data={"csrf_token": token, "large_text": "off"})
    assert '<body class="">' in client.get("/login").text


def test_locale_of_the_user_is_used_after_login(client, runtime, users):
    add_user(runtime.engine, "zhang", "nurse", PASSWORD, "zh-CN", roles=ROLES)
    login(client, "zhang")
    assert client.get("/api/ping", headers={"Accept-Language": "en"}).json()["locale"] == "zh-CN"


def test_control_characters_in_the_name_are_a_plain_failure(client, runtime, users):
    response = login(client, "ali\x00ce\n")
    assert response.status_code == 400
    [entry] = audit_rows(runtime, action="login_failed")
    assert entry.actor == "ali?ce"


def test_overlong_fields_are_a_plain_failure(client, users):
    assert login(client, "a" * 5000, "p" * 5000).status_code == 400


def test_a_sign_in_resets_the_accounts_count_but_not_the_addresss(client, settings, users):
    """docs/security.md: "A successful sign-in resets the account's count (not the address's)"."""
    assert (settings.login_max_failures, settings.login_max_failures_per_address) == (3, 6)
    for _ in range(2):
        assert login(client, "alice", "wrong password!!").status_code == 400
    assert login(client, "alice").status_code == 303  # the address has made 3 attempts
    client.cookies.clear()
    for _ in range(2):  # the account's count started again: 2 more guesses are checked, not refused
        assert login(client, "alice", "wrong password!!").status_code == 400
    assert login(client, "guess1", "wrong password!!").status_code == 400  # the address's 6th attempt
    assert login(client, "guess2", "wrong password!!").status_code == 429  # all 6 still count for it
    assert login(client, "alice").status_code == 429


def test_signing_out_keeps_only_the_language_and_text_size(client, users):
    """docs/security.md: "Signing out clears the cookie; only the language and text-size choices are kept"."""
    login(client, "alice")
    token = session_csrf(client)
    client.post("/locale", data={"locale": "zh-CN", "csrf_token": token})
    client.post("/large-text", data={"csrf_token": token})
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert "用户名" in page.text and '<body class="large-text">' in page.text
    assert client.get("/").status_code == 303  # signed out
    assert client.post("/large-text", data={"csrf_token": token}).status_code == 403  # the old token went too
