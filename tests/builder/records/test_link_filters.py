"""A link's `filter:` and a form section's `required_if`/`readonly_if`: judged by the record service on every write."""

from __future__ import annotations

import pytest

from builder.records import SYSTEM, Actor, RecordService, ValidationFailed
from builder.records.link_filters import LinkChoice
from builder.storage.database import make_engine
from builder.system_tables import create_system_tables
from engines.forms import EntitySpec, FormSpec

ENTITIES = {
    "staff": EntitySpec.model_validate(
        {
            "title_field": "name",
            "fields": {
                "name": {"type": "text", "required": True},
                "department": {"type": "select", "options": ["internal", "dental"]},
                "active": {"type": "boolean", "default": True},
            },
            "permissions": {"admin": {"read": "all", "write": "all", "create": True}},
        }
    ),
    "visit": EntitySpec.model_validate(
        {
            "fields": {
                "department": {"type": "select", "options": ["internal", "dental"]},
                "doctor": {
                    "type": "link",
                    "to": "staff",
                    "label": {"en": "Doctor", "zh-CN": "医生"},
                    "filter": "record.department == null or department == record.department",
                },
                "referrer": {"type": "link", "to": "staff", "filter": "active == true"},
                "status": {"type": "select", "options": ["open", "closed"], "default": "open"},
                "outcome": {"type": "text", "label": {"en": "Outcome"}},
                "notes": {"type": "text"},
            },
            "permissions": {"admin": {"read": "all", "write": "all", "create": True}},
        }
    ),
}
FORMS = {
    "visit_form": FormSpec.model_validate(
        {
            "entity": "visit",
            "layout": [
                {"section": "Who", "fields": ["department", "doctor", "referrer", "status"]},
                {
                    "section": "Closing",
                    "required_if": "status == 'closed'",
                    "readonly_if": "status == 'closed' and notes == 'signed'",
                    "fields": ["outcome", "notes"],
                },
            ],
        }
    )
}
ADMIN = Actor(id=1, name="admin", role="admin", locale="en")


@pytest.fixture
def service(database_url):
    engine = make_engine(database_url)
    records = RecordService(ENTITIES, engine, forms=FORMS)
    records.schema.metadata.create_all(engine)
    create_system_tables(engine)
    yield records
    engine.dispose()


@pytest.fixture
def staff(service):
    li = service.create(SYSTEM, "staff", {"name": "Li", "department": "internal"})
    zhao = service.create(SYSTEM, "staff", {"name": "Zhao", "department": "dental"})
    gone = service.create(SYSTEM, "staff", {"name": "Gone", "department": "dental", "active": False})
    return {"li": li["id"], "zhao": zhao["id"], "gone": gone["id"]}


def codes(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return {e.field: e.code for e in exc.value.errors}


def test_a_link_outside_its_filter_is_refused_with_a_labelled_error(service, staff):
    with pytest.raises(ValidationFailed) as exc:
        service.create(ADMIN, "visit", {"department": "dental", "doctor": staff["li"]})
    assert codes(exc) == {"doctor": "link_filter"}
    assert exc.value.errors[0].message.startswith("Doctor:")
    made = service.create(ADMIN, "visit", {"department": "dental", "doctor": staff["zhao"]})
    assert made["doctor"] == staff["zhao"]
    # an empty `record.department` admits every doctor (`record.department == null`)
    assert service.create(ADMIN, "visit", {"doctor": staff["li"]})["doctor"] == staff["li"]


def test_the_system_is_held_to_the_filter_too(service, staff):
    with pytest.raises(ValidationFailed) as exc:
        service.create(SYSTEM, "visit", {"department": "internal", "doctor": staff["zhao"]})
    assert codes(exc) == {"doctor": "link_filter"}


def test_a_fixed_condition_refuses_an_inactive_target(service, staff):
    with pytest.raises(ValidationFailed) as exc:
        service.create(ADMIN, "visit", {"referrer": staff["gone"]})
    assert codes(exc) == {"referrer": "link_filter"}
    assert service.create(ADMIN, "visit", {"referrer": staff["li"]})["referrer"] == staff["li"]


def test_changing_what_the_filter_reads_rechecks_the_stored_link(service, staff):
    made = service.create(ADMIN, "visit", {"doctor": staff["li"]})
    with pytest.raises(ValidationFailed) as exc:
        service.update(ADMIN, "visit", made["id"], {"department": "dental"}, version=made["version"])
    assert codes(exc) == {"doctor": "link_filter"}
    # a write touching neither the link nor what its filter reads leaves a stale link alone
    service.update(SYSTEM, "staff", staff["li"], {"department": "dental"}, version=1)
    kept = service.create(ADMIN, "visit", {"department": "dental", "doctor": staff["li"]})
    service.update(SYSTEM, "staff", staff["li"], {"department": "internal"}, version=2)
    changed = service.update(ADMIN, "visit", kept["id"], {"notes": "ok"}, version=kept["version"])
    assert changed["notes"] == "ok"


def test_a_list_for_a_picker_offers_only_what_the_filter_admits(service, staff):
    dental = LinkChoice("visit", "doctor", {"department": "dental"})
    names = [r["name"] for r in service.list(ADMIN, "staff", choosing=dental, sort="name").items]
    assert names == ["Gone", "Zhao"]
    anyone = LinkChoice("visit", "doctor", {"department": None})
    assert len(service.list(ADMIN, "staff", choosing=anyone).items) == 3
    active = LinkChoice("visit", "referrer", {})
    assert {r["name"] for r in service.list(ADMIN, "staff", choosing=active).items} == {"Li", "Zhao"}


def test_a_section_required_if_binds_every_field_in_it(service):
    made = service.create(ADMIN, "visit", {"status": "open"})
    with pytest.raises(ValidationFailed) as exc:
        service.update(ADMIN, "visit", made["id"], {"status": "closed"}, version=made["version"])
    assert codes(exc) == {"outcome": "required", "notes": "required"}
    closed = service.update(
        ADMIN, "visit", made["id"], {"status": "closed", "outcome": "well", "notes": "x"}, version=made["version"]
    )
    assert closed["status"] == "closed"


def test_a_section_readonly_if_refuses_a_change_to_any_field_in_it(service):
    opened = service.create(ADMIN, "visit", {"status": "open", "outcome": "well", "notes": "signed"})
    made = service.update(ADMIN, "visit", opened["id"], {"status": "closed"}, version=opened["version"])
    with pytest.raises(ValidationFailed) as exc:
        service.update(ADMIN, "visit", made["id"], {"outcome": "other"}, version=made["version"])
    assert codes(exc) == {"outcome": "read_only_if"}
    assert "status" in exc.value.errors[0].message or "notes" in exc.value.errors[0].message
    # the same value sent back is no change
    same = service.update(ADMIN, "visit", made["id"], {"outcome": "well"}, version=made["version"])
    assert same["outcome"] == "well"


def test_without_forms_sections_bind_nothing(database_url):
    engine = make_engine(database_url)
    records = RecordService(ENTITIES, engine)
    records.schema.metadata.create_all(engine)
    create_system_tables(engine)
    try:
        made = records.create(ADMIN, "visit", {"status": "closed"})
        assert made["outcome"] is None
    finally:
        engine.dispose()
