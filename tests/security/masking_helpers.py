"""A seeded clinic behind the real app (security layer included) for the masking and read-audit tests.

Reuses the web tests' clinic (tests/builder/web/clinic_fixtures.py): one login and one
API token per role, four patients (phones 1380013000N, allergies "penicillin").
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "builder" / "web"))

from clinic_fixtures import (
    CLINIC,
    PASSWORD,
    build_runtime,
    create_tokens,
    create_users,
    csrf_of,
    seed_clinic,
)

from builder.records import Actor
from builder.runtime import Runtime
from builder.system_tables import audit

SECRET = "masking-tests-secret-key-that-is-long-enough-0123456789"


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
        return self._client({"Authorization": f"Bearer {self.tokens[role]}"})

    def login(self, user: str) -> TestClient:
        client = self._client()
        page = client.get("/login")
        response = client.post(
            "/login", data={"username": user, "password": PASSWORD, "next": "/", "csrf_token": csrf_of(page.text)}
        )
        assert response.status_code == 303, response.text
        return client

    def audit(self, *actions: str) -> list[Any]:
        """Audit rows (oldest first), only those of `actions` if given."""
        query = sa.select(audit).order_by(audit.c.id)
        if actions:
            query = query.where(audit.c.action.in_(actions))
        with self.runtime.engine.connect() as conn:
            return conn.execute(query).all()

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.runtime.close()


def open_clinic(tmp_path: Path, url: str, source: Path = CLINIC, seed: bool = True, **settings: Any) -> Clinic:
    """The clinic served by the real app; `settings` go to SecuritySettings (e.g. masked_lookup_limit)."""
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    runtime = build_runtime(tmp_path / "project", url, source)
    actors = create_users(runtime)
    tokens = create_tokens(runtime)
    data = seed_clinic(runtime, actors) if seed else {}
    app = create_app(runtime, SecuritySettings(secret_key=SECRET, **settings))
    return Clinic(runtime, app, actors, tokens, data)


def second_app(clinic: Clinic, tmp_path: Path, url: str, **settings: Any) -> Clinic:
    """Another app process on the same database: its own engine, record service and settings."""
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    runtime = build_runtime(tmp_path / "second", url)
    app = create_app(runtime, SecuritySettings(secret_key=SECRET, **settings))
    return Clinic(runtime, app, clinic.actors, clinic.tokens, clinic.data)


def clinic_with_linked_computes(tmp_dir: Path) -> Path:
    """The clinic template plus computed appointment fields that read the linked patient's PHI.

    The front desk reads every appointment field but not `patient.allergies`, sees
    `patient.phone` masked, and (here) sees no dormant patients.
    """
    copy = tmp_dir / "clinic-linked"
    shutil.copytree(CLINIC, copy)
    appointment = copy / "entities" / "appointment.yaml"
    text = appointment.read_text(encoding="utf-8")
    text = text.replace(
        "  validations:",
        """    allergy_alert: {type: boolean, compute: "not is_empty(patient.allergies)", label: {en: Allergy alert}}
    can_call: {type: boolean, compute: "not is_empty(patient.phone)", label: {en: Can call}}
  validations:""",
        1,
    )
    appointment.write_text(text, encoding="utf-8")
    patient = copy / "entities" / "patient.yaml"
    text = patient.read_text(encoding="utf-8")
    text = re.sub(r"(front_desk: \{read: \[name.*?create: true)\}", r"""\1, where: "stage != 'dormant'"}""", text)
    assert "stage != 'dormant'" in text
    patient.write_text(text, encoding="utf-8")
    return copy


def detail_of(row: Any) -> dict[str, Any]:
    return json.loads(row.detail) if row.detail else {}


def served_clinic(tmp_path: Path, url: str, **options: Any) -> Iterator[Clinic]:
    """Body of a `clinic` fixture: `yield from served_clinic(tmp_path, database_url)`."""
    made = open_clinic(tmp_path, url, **options)
    try:
        yield made
    finally:
        made.close()
