"""`required_if` and `readonly_if`: judged by the record service on every write, on each database."""

from __future__ import annotations

import pytest

from builder.records import SYSTEM, RecordService, ValidationFailed
from builder.storage.database import make_engine
from builder.system_tables import create_system_tables
from engines.forms import EntitySpec

ENTITIES = {
    "case": EntitySpec.model_validate(
        {
            "title": "Case",
            "fields": {
                "gender": {"type": "select", "options": ["female", "male"], "label": {"en": "Gender"}},
                "status": {"type": "select", "options": ["open", "closed"], "default": "open"},
                "outcome": {"type": "text", "required_if": "status == 'closed'"},
                "pregnancy": {"type": "boolean", "readonly_if": "gender == 'male'"},
            },
            "permissions": {"admin": {"read": "all", "write": "all", "create": True}},
        }
    )
}


@pytest.fixture
def service(database_url, keyring):
    engine = make_engine(database_url)
    records = RecordService(ENTITIES, engine, keyring)
    records.schema.metadata.create_all(engine)
    create_system_tables(engine)
    yield records
    engine.dispose()


def codes(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return {e.field: e.code for e in exc.value.errors}


def test_required_if_binds_only_while_true(service):
    made = service.create(SYSTEM, "case", {"status": "open"})
    with pytest.raises(ValidationFailed) as exc:
        service.update(SYSTEM, "case", made["id"], {"status": "closed"}, version=made["version"])
    assert codes(exc) == {"outcome": "required"}
    done = service.update(SYSTEM, "case", made["id"], {"status": "closed", "outcome": "ok"}, version=made["version"])
    assert done["outcome"] == "ok"
    with pytest.raises(ValidationFailed) as exc:
        service.create(SYSTEM, "case", {"status": "closed"})
    assert codes(exc) == {"outcome": "required"}


def test_readonly_if_refuses_a_change_and_names_why(service):
    made = service.create(SYSTEM, "case", {"gender": "female", "pregnancy": True})
    with pytest.raises(ValidationFailed) as exc:
        service.update(SYSTEM, "case", made["id"], {"gender": "male", "pregnancy": False}, version=made["version"])
    assert codes(exc) == {"pregnancy": "read_only_if"}
    assert "Gender" in exc.value.errors[0].message
    # the same value sent back is no change; other fields stay writable
    kept = service.update(SYSTEM, "case", made["id"], {"gender": "male", "pregnancy": True}, version=made["version"])
    assert kept["gender"] == "male"
    with pytest.raises(ValidationFailed) as exc:
        service.create(SYSTEM, "case", {"gender": "male", "pregnancy": True})
    assert codes(exc) == {"pregnancy": "read_only_if"}
    assert service.create(SYSTEM, "case", {"gender": "female", "pregnancy": True})["pregnancy"] is True


def test_the_clinic_follow_up_keeps_its_outcome_and_its_reason_once_closed(database_url, keyring):
    from builder.loading import load_blueprint

    loaded = load_blueprint("blueprints/clinic")
    engine = make_engine(database_url)
    clinic = RecordService(loaded.blueprint.entities, engine, keyring, decision_tables=loaded.decision_tables)
    clinic.schema.metadata.create_all(engine)
    create_system_tables(engine)
    try:
        patient = clinic.create(SYSTEM, "patient", {"name": "王芳", "phone": "13800000001"})["id"]
        task = clinic.create(SYSTEM, "follow_up", {"patient": patient, "due_on": "2026-12-04", "reason": "check"})
        done = clinic.update(SYSTEM, "follow_up", task["id"], {"status": "done", "outcome": "fine"}, version=1)
        with pytest.raises(ValidationFailed) as exc:
            clinic.update(SYSTEM, "follow_up", task["id"], {"outcome": ""}, version=done["version"])
        assert codes(exc) == {"outcome": "required"}
        with pytest.raises(ValidationFailed) as exc:
            clinic.update(SYSTEM, "follow_up", task["id"], {"reason": "other"}, version=done["version"])
        assert codes(exc) == {"reason": "read_only_if"}
    finally:
        engine.dispose()
