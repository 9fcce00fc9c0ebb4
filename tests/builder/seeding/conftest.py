"""Shared by the seeding tests: no project, database or keys from the environment leak in."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_outside_project(monkeypatch, tmp_path):
    for name in ("CRM_DATABASE_URL", "CRM_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CRM_KEY_FILE", str(tmp_path / "keys" / "crm-keys.json"))
