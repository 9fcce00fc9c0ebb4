"""What every physio test shares: no project from the environment, and a served, migrated physio clinic."""

from __future__ import annotations

import pytest
from physio import crm, init_physio_project, serve_physio


@pytest.fixture(autouse=True)
def _no_outside_project(monkeypatch):
    for name in ("CRM_DATABASE_URL", "CRM_ENCRYPTION_KEYS", "CRM_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def served(tmp_path, database_url):
    """The physio blueprint migrated on `database_url` and served (its `api(role)` clients sign in)."""
    directory = init_physio_project(tmp_path / "physio", database_url)
    migrated = crm("migrate", "-p", directory, "--yes")
    assert migrated.exit_code == 0, migrated.output
    app = serve_physio(directory)
    try:
        yield app
    finally:
        app.close()
