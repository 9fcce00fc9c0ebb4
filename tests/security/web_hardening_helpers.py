"""A small app over a blueprint written by the test, served like `crm serve` (security layer included).

The clinic tests live in tests/builder/web; these helpers reuse their runtime builder
so a test here can stand up any blueprint, sign a role in, or hand it an API token.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "builder" / "web"))

from clinic_fixtures import PASSWORD, build_runtime, csrf_of

SECRET = "hardening-tests-secret-key-long-enough-0123456789"


@dataclass
class Served:
    runtime: Any
    app: Any
    clients: list[TestClient] = field(default_factory=list)

    def client(self, headers: dict[str, str] | None = None) -> TestClient:
        made = TestClient(self.app, raise_server_exceptions=False, follow_redirects=False, headers=headers or {})
        self.clients.append(made)
        return made

    def token(self, role: str) -> TestClient:
        from builder.accounts import create_token

        secret = create_token(
            self.runtime.engine, f"t-{role}-{len(self.clients)}", role, roles=list(self.runtime.blueprint.roles)
        )
        return self.client({"Authorization": f"Bearer {secret}"})

    def login(self, name: str, role: str | None = None, locale: str = "en") -> TestClient:
        """A signed-in browser session (the account is made first when `role` is given)."""
        if role is not None:
            from argon2 import PasswordHasher

            from builder.accounts import add_user

            add_user(
                self.runtime.engine,
                name,
                role,
                PASSWORD,
                locale,
                roles=list(self.runtime.blueprint.roles),
                hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
            )
        browser = self.client()
        page = browser.get("/login")
        response = browser.post(
            "/login", data={"username": name, "password": PASSWORD, "next": "/", "csrf_token": csrf_of(page.text)}
        )
        assert response.status_code == 303, response.text
        return browser

    def close(self) -> None:
        for made in self.clients:
            made.close()
        self.runtime.close()


def serve(tmp_path: Path, database_url: str, blueprint_yaml: str | None = None) -> Served:
    """The app for `blueprint_yaml` (a one-file blueprint), or for the clinic when it is None."""
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    if blueprint_yaml is None:
        runtime = build_runtime(tmp_path / "project", database_url)
    else:
        source = tmp_path / "blueprint.yaml"
        source.write_text(blueprint_yaml, encoding="utf-8")
        runtime = build_runtime(tmp_path / "project", database_url, source)
    return Served(runtime, create_app(runtime, SecuritySettings(secret_key=SECRET)))
