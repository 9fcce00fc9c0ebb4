"""A seeded clinic served by the real app (security layer included), on SQLite and PostgreSQL.

`clinic` gives a fresh database per test (through `database_url` from tests/conftest.py),
one login and one API token per role, a little seed data, and helpers for clients:
`clinic.api(role)` (bearer token), `clinic.login(user)` (a signed-in browser session).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clinic_fixtures import SECRET, ServedClinic, build_runtime, create_tokens, create_users, seed_clinic

Clinic = ServedClinic


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
