"""A record service over the clinic template, on each database of `database_url`."""

from __future__ import annotations

import pytest

from builder.loading import load_blueprint
from builder.records import SYSTEM, RecordService
from builder.storage.crypto import Keyring
from builder.storage.database import make_engine
from builder.storage.migrations import apply_migration, plan_migration
from builder.system_tables import create_system_tables

LOADED = load_blueprint("blueprints/clinic")
CLINIC = LOADED.blueprint


@pytest.fixture
def keyring(tmp_path):
    return Keyring.generate(tmp_path / "keys.json")


@pytest.fixture
def service(database_url, keyring):
    engine = make_engine(database_url)
    records = RecordService(CLINIC.entities, engine, keyring, decision_tables=LOADED.decision_tables)
    records.schema.metadata.create_all(engine)
    create_system_tables(engine)
    yield records
    engine.dispose()


@pytest.fixture
def doctor_id(service):
    return service.create(SYSTEM, "staff", {"name": "李医生", "department": "internal_medicine"})["id"]


@pytest.fixture
def migrated_clinic(database_url, keyring):
    """(record service, migration plan) of the clinic made by `crm migrate`'s own plan: its indexes are a project's."""
    engine = make_engine(database_url)
    plan = plan_migration(engine, CLINIC.entities)
    apply_migration(engine, plan, keyring=keyring)
    create_system_tables(engine)
    yield RecordService(CLINIC.entities, engine, keyring, decision_tables=LOADED.decision_tables), plan
    engine.dispose()
