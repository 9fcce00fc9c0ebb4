"""A clinic CRM on SQLite or PostgreSQL for the web tests: tables, a cipher, users and seed data.

Used by conftest.py (and by the benchmark), so every test sees the same small
clinic: two doctors with login accounts, patients with and without marketing
consent, appointments for each doctor and a visit with prescriptions.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.testclient import TestClient

from builder.project import Project
from builder.records import SYSTEM, Actor
from builder.runtime import Runtime, open_runtime
from builder.system_tables import audit, create_system_tables
from engines.rules import ExpressionError

SECRET = "web-tests-secret-key-that-is-long-enough-0123456789"  # the web tests' app secret

CLINIC = Path(__file__).resolve().parents[3] / "blueprints" / "clinic"
ROLES = ("admin", "doctor", "nurse", "front_desk", "marketing", "analyst")


def _without_decide(source: Path, tmp_dir: Path) -> Path:
    """A copy of the blueprint whose `decide()` computes are removed (while engines/rules is reworked)."""
    copy = tmp_dir / "clinic-no-decide"
    if not copy.exists():
        shutil.copytree(source, copy)
        for path in copy.rglob("*.yaml"):
            text = path.read_text(encoding="utf-8")
            path.write_text(re.sub(r"\n\s*compute: \"[^\"]*decide\([^\n]*", "", text), encoding="utf-8")
    return copy


def _project(tmp_dir: Path, source: Path, url: str) -> Project:
    from builder.storage.crypto import Keyring

    key_file = tmp_dir / "keys.json"
    if not key_file.exists():
        Keyring.generate(key_file)
    return Project(
        tmp_dir,
        {"project": {"blueprint": str(source)}, "database": {"url": url}, "security": {"key_file": str(key_file)}},
    )


def build_runtime(tmp_dir: Path, url: str, source: Path = CLINIC) -> Runtime:
    """The clinic opened like `crm serve` does, its tables created directly (no migrations)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    try:
        runtime = open_runtime(_project(tmp_dir, source, url), url)
    except ExpressionError:
        runtime = open_runtime(_project(tmp_dir, _without_decide(source, tmp_dir), url), url)
    runtime.records.schema.metadata.create_all(runtime.engine)
    create_system_tables(runtime.engine)
    return runtime


PASSWORD = "correct-horse-battery-staple"


def create_users(runtime: Runtime) -> dict[str, Actor]:
    """One login per role (plus a second doctor), password PASSWORD; actors keyed by user name."""
    from argon2 import PasswordHasher

    from builder.accounts import add_user

    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only: hashing is not under test
    actors: dict[str, Actor] = {}
    roles = list(runtime.blueprint.roles)
    for name, role in [(r, r) for r in ROLES] + [("doctor2", "doctor")]:
        user = add_user(runtime.engine, name, role, PASSWORD, "en", roles=roles, hasher=quick)
        actors[name] = Actor(id=user.id, name=name, role=role, locale="en")
    return actors


def create_tokens(runtime: Runtime) -> dict[str, str]:
    """An API token per role: {role: secret}."""
    from builder.accounts import create_token

    roles = list(runtime.blueprint.roles)
    return {role: create_token(runtime.engine, f"test-{role}", role, roles=roles) for role in ROLES}


def seed_clinic(runtime: Runtime, actors: dict[str, Actor]) -> dict[str, Any]:
    """A few records of each entity, written through the record service as the system."""
    service = runtime.records
    staff = [
        service.create(
            SYSTEM, "staff", {"name": "Dr. Li", "department": "internal_medicine", "user": actors["doctor"].id}
        ),
        service.create(SYSTEM, "staff", {"name": "Dr. Zhao", "department": "dental", "user": actors["doctor2"].id}),
    ]
    patients = []
    for i, (name, consent) in enumerate(
        [("Wang Fang", True), ("Zhang Wei", False), ("Liu Yang", True), ("Chen Jing", False)]
    ):
        patients.append(
            service.create(
                SYSTEM,
                "patient",
                {
                    "name": name,
                    "phone": f"1380013{i:04d}",
                    "gender": "female" if i % 2 == 0 else "male",
                    "birth_date": f"19{60 + i * 5}-05-0{i + 1}",
                    "consent_marketing": consent,
                    "allergies": "penicillin",
                    "email": f"p{i}@example.com",
                    "stage": ["lead", "active", "active", "dormant"][i],
                    "tags": ["diabetes"] if i % 2 == 0 else ["vip"],
                    "primary_doctor": staff[i % 2]["id"],
                    "id_number": ["110105196005010022", "110105196505021238", None, None][i],
                },
            )
        )
    appointments = [
        service.create(
            SYSTEM,
            "appointment",
            {
                "patient": patients[i]["id"],
                "doctor": staff[i % 2]["id"],
                "starts_at": f"2026-03-0{i + 1}T09:00",
                "channel": "phone",
            },
        )
        for i in range(4)
    ]
    visit = service.create(
        SYSTEM,
        "visit",
        {
            "patient": patients[0]["id"],
            "doctor": staff[0]["id"],
            "visited_at": "2026-03-01T10:00",
            "diagnosis": "hypertension",
            "satisfaction": 9,
            "prescriptions": [{"drug": "Amlodipine", "dose": "5 mg", "days": 30}, {"drug": "Aspirin", "days": 7}],
        },
    )
    follow_up = service.create(
        SYSTEM,
        "follow_up",
        {"patient": patients[0]["id"], "assignee": staff[0]["id"], "due_on": "2026-03-10", "reason": "Check BP"},
    )
    vital = service.create(
        SYSTEM,
        "vital_reading",
        {"patient": patients[0]["id"], "taken_at": "2026-03-01T08:00", "systolic": 150, "diastolic": 95},
    )
    survey = service.create(SYSTEM, "satisfaction", {"visit": visit["id"], "score": 5, "comment": "Kind staff"})
    return {
        "survey": survey,
        "vital": vital,
        "staff": staff,
        "patients": patients,
        "appointments": appointments,
        "visit": visit,
        "follow_up": follow_up,
    }


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@dataclass
class ServedClinic:
    """A seeded clinic behind the real app, with clients per role: `api(role)`, `login(user)`, `anonymous()`."""

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

    def audit(self, *actions: str) -> list[Any]:
        """Audit rows (oldest first), only those of `actions` if given."""
        query = sa.select(audit).order_by(audit.c.id)
        if actions:
            query = query.where(audit.c.action.in_(actions))
        with self.runtime.engine.connect() as conn:
            return list(conn.execute(query).all())

    def close(self) -> None:
        for client in self.clients:
            client.close()


@contextmanager
def clinic_copy(tmp_path: Path, url: str, change: Callable[[Path], None] | None = None) -> Iterator[ServedClinic]:
    """A served, seeded clinic whose blueprint is a copy in tmp, changed first by `change` (a test's variant)."""
    from builder.web.app import create_app
    from builder.web.security import SecuritySettings

    blueprint = tmp_path / "blueprint"
    shutil.copytree(CLINIC, blueprint)
    if change is not None:
        change(blueprint)
    runtime = build_runtime(tmp_path / "project", url, source=blueprint)
    actors = create_users(runtime)
    app = create_app(runtime, SecuritySettings(secret_key=SECRET))
    made = ServedClinic(runtime, app, actors, create_tokens(runtime), seed_clinic(runtime, actors))
    try:
        yield made
    finally:
        made.close()
        runtime.close()
