"""The seeded clinic of the web tests, for the limit tests in tests/security.

tests/builder/web/conftest.py builds it for its own folder; this module reuses the
same builders (clinic_fixtures) so the attack tests here run against the real app,
security layer included, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

WEB_TESTS = Path(__file__).resolve().parents[1] / "builder" / "web"
if str(WEB_TESTS) not in sys.path:
    sys.path.insert(0, str(WEB_TESTS))

from clinic_fixtures import build_runtime, create_tokens, create_users, seed_clinic  # noqa: E402

SECRET = "limits-tests-secret-key-that-is-long-enough-0123456789"


class LimitsClinic:
    """The seeded clinic app, with API clients by role."""

    def __init__(self, tmp_path: Path, url: str, **settings: Any):
        from builder.web.app import create_app
        from builder.web.security import SecuritySettings

        self.runtime = build_runtime(tmp_path / "project", url)
        self.actors = create_users(self.runtime)
        self.tokens = create_tokens(self.runtime)
        self.data = seed_clinic(self.runtime, self.actors)
        self.app = create_app(self.runtime, SecuritySettings(secret_key=SECRET, **settings))
        self.clients: list[TestClient] = []

    def api(self, role: str) -> TestClient:
        client = TestClient(
            self.app,
            raise_server_exceptions=False,
            follow_redirects=False,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
        )
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.runtime.close()


@contextmanager
def limits_clinic(tmp_path: Path, url: str, **settings: Any) -> Iterator[LimitsClinic]:
    made = LimitsClinic(tmp_path, url, **settings)
    try:
        yield made
    finally:
        made.close()
