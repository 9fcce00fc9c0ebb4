"""A seeded clinic served by the real app (security layer included), on SQLite and PostgreSQL.

`clinic` gives a fresh database per test (through `database_url` from tests/conftest.py),
one login and one API token per role, a little seed data, and helpers for clients:
`clinic.api(role)` (bearer token), `clinic.login(user)` (a signed-in browser session).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from clinic_fixtures import PASSWORD, build_runtime, create_tokens, create_users, csrf_of, seed_clinic
from starlette.testclient import TestClient

from builder.records import Actor
from builder.runtime import Runtime

SECRET = "web-tests-secret-key-that-is-long-enough-0123456789"


@dataclass
class Clinic:
    runtime: Runtime
    app: Any
    actors: dict[str, Actor]
    tokens: dict[str, str]
    data: dict[str, Any]
    clients: list[TestClient] = field(default_factory=list)

    def _client(self, headers: dict[str, str] | None = None) -> TestClient:
        client = TestClient(self.app, raise_server_exceptions=False, follow_redirects=False, headers=headers or {})
        self.clients.append(client)
        return client

    def api(self, role: str) -> TestClient:
        """A client acting with `role`'s API token."""
        return self._client({"Authorization": f"Bearer {self.tokens[role]}"})

    def anonymous(self) -> TestClient:
        return self._client()

    def login(self, user: str) -> TestClient:
        """A browser session signed in as `user` (a role name, or `doctor2`)."""
        client = self._client()
        page = client.get("/login")
        response = client.post(
            "/login", data={"username": user, "password": PASSWORD, "next": "/", "csrf_token": csrf_of(page.text)}
        )
        assert response.status_code == 303, response.text
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()


def make_clinic(tmp_path: Path, url: str) -> Clinic:
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    runtime = build_runtime(tmp_path / "project", url)
    actors = create_users(runtime)
    tokens = create_tokens(runtime)
    data = seed_clinic(runtime, actors)
    app = create_app(runtime, SecuritySettings(secret_key=SECRET))
    return Clinic(runtime, app, actors, tokens, data)


@pytest.fixture
def clinic(tmp_path, database_url):
    made = make_clinic(tmp_path, database_url)
    try:
        yield made
    finally:
        made.close()
        made.runtime.close()
