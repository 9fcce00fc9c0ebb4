"""A record service over the clinic template, on each database of `database_url`."""

from __future__ import annotations

import pytest

from builder.loading import load_blueprint
from builder.records import SYSTEM, RecordService
from builder.storage.crypto import Keyring
from builder.storage.database import make_engine
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
