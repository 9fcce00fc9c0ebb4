"""Fixtures: a small app built only from the security package.

`database_url` comes from tests/conftest.py: every test here runs on SQLite and on
PostgreSQL (skipped, with the reason, when the server is unreachable).
"""

from __future__ import annotations

import pytest
from security_helpers import PASSWORD, REPO, ROLES, FakeClock, build_app
from starlette.testclient import TestClient

from builder.accounts import add_user
from builder.loading import load_blueprint
from builder.project import Project
from builder.runtime import Runtime
from builder.storage.database import make_engine
from builder.storage.tables import build_schema
from builder.system_tables import create_system_tables
from builder.web.security import SecuritySettings


@pytest.fixture(scope="session")
def clinic():
    return load_blueprint(REPO / "blueprints" / "clinic")


@pytest.fixture
def runtime(database_url, clinic, tmp_path):
    engine = make_engine(database_url)
    create_system_tables(engine)
    entities = clinic.blueprint.entities
    build_schema(entities).metadata.create_all(engine)
    # The security package needs only the engine and the blueprint, not the record service.
    rt = Runtime(Project(tmp_path), clinic, engine, records=None)
    yield rt
    engine.dispose()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def settings(clock):
    return SecuritySettings(
        secret_key="test-secret-" + "x" * 40,
        session_idle_minutes=30,
        login_max_failures=3,
        login_max_failures_per_address=6,
        login_window_minutes=15,
        clock=clock,
    )


@pytest.fixture
def app(runtime, settings):
    return build_app(runtime, settings)


@pytest.fixture
def client(app):
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def users(runtime):
    """An admin, a doctor and a nurse, all with PASSWORD."""
    for name, role in (("alice", "admin"), ("dr_wang", "doctor"), ("nurse_li", "nurse")):
        add_user(runtime.engine, name, role, PASSWORD, roles=ROLES)
    return {"admin": "alice", "doctor": "dr_wang", "nurse": "nurse_li"}
