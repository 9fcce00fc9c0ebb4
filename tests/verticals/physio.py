"""The physio project: the second vertical (tests/blueprints/physio) as a real project, for any test.

`init_physio_project(dir, url)` makes a project folder like `crm init` does (the
blueprint copied in, a crm.toml naming the database and a key file outside the
folder); `crm` commands then run on it as on any project. `serve_physio(dir)` opens it
like `crm serve` and gives API clients (`api`) and signed-in browsers (`login`) per account: `admin`, `reception`,
and two therapists, `ther_a` and `ther_b`, whose therapist records carry their accounts.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from starlette.testclient import TestClient

PHYSIO = Path(__file__).resolve().parents[1] / "blueprints" / "physio"
ENTITIES = ("therapist", "client", "session", "exercise_plan", "pain_reading")
ACCOUNTS = {"admin": "admin", "reception": "reception", "ther_a": "therapist", "ther_b": "therapist"}
SECRET = "physio-tests-secret-key-that-is-long-enough-0123456789"
PASSWORD = "correct-horse-battery-staple"


def init_physio_project(directory: Path, database_url: str) -> Path:
    """A project folder holding a copy of the physio blueprint, on `database_url`."""
    directory.mkdir(parents=True)
    shutil.copytree(PHYSIO, directory / "blueprint")
    key_file = directory.parent / f".{directory.name}.crm-keys.json"
    (directory / "crm.toml").write_text(
        f'[project]\nblueprint = "blueprint"\n\n[database]\nurl = "{database_url}"\n\n'
        f'[security]\nkey_file = "{key_file}"\n',
        encoding="utf-8",
    )
    return directory


def crm(*args: Any) -> Result:
    """Run a `crm` command in this process (the environment must not name another project's database)."""
    from builder.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@dataclass
class PhysioApp:
    """The physio project served by the real app; `api(account)` is a client acting as that account."""

    runtime: Any
    app: Any
    tokens: dict[str, str]
    user_ids: dict[str, int]
    clients: list[TestClient] = field(default_factory=list)

    def api(self, account: str) -> TestClient:
        client = TestClient(
            self.app,
            raise_server_exceptions=False,
            follow_redirects=False,
            headers={"Authorization": f"Bearer {self.tokens[account]}"},
        )
        self.clients.append(client)
        return client

    def login(self, account: str) -> TestClient:
        """A browser session signed in as `account` through the sign-in page."""
        client = TestClient(self.app, raise_server_exceptions=False, follow_redirects=False)
        self.clients.append(client)
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
        assert token, "the sign-in page has no CSRF token"
        response = client.post(
            "/login", data={"username": account, "password": PASSWORD, "next": "/", "csrf_token": token.group(1)}
        )
        assert response.status_code == 303, response.text
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.runtime.close()


def serve_physio(directory: Path) -> PhysioApp:
    """Open the (migrated) project like `crm serve`, with one account and token per entry of ACCOUNTS."""
    from argon2 import PasswordHasher

    from builder.accounts import add_user, create_token
    from builder.runtime import open_runtime
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    runtime = open_runtime(directory)
    roles = list(runtime.blueprint.roles)
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # hashing is not under test here
    user_ids, tokens = {}, {}
    for name, role in ACCOUNTS.items():
        user_ids[name] = add_user(runtime.engine, name, role, PASSWORD, "en", roles=roles, hasher=quick).id
        tokens[name] = create_token(runtime.engine, f"test-{name}", None, roles=roles, user=name)
    app = create_app(runtime, SecuritySettings(secret_key=SECRET))
    return PhysioApp(runtime, app, tokens, user_ids)
