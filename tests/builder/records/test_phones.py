"""Phones through the record service: real numbers only, stored E.164, found however they are typed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from builder.loading import load_blueprint
from builder.records import SYSTEM, Actor, RecordService, ValidationFailed
from builder.storage.database import make_engine
from builder.system_tables import create_system_tables

FRONT_DESK = Actor(7, "desk", "front_desk", locale="en")
SPELLINGS = (
    "13912345678",
    "139 1234 5678",
    "139-1234-5678",
    "+86 139 1234 5678",
    "+86-13912345678",
    "１３９１２３４５６７８",
    "＋８６ １３９ １２３４ ５６７８",
)


def stored_phone(service: RecordService, record_id: int) -> str:
    table = service.schema.table("patient")
    with service.engine.connect() as connection:
        return connection.execute(sa.select(table.c.phone).where(table.c.id == record_id)).scalar_one()


def new_patient(service: RecordService, phone: str, name: str = "王芳") -> dict:
    return service.create(SYSTEM, "patient", {"name": name, "phone": phone, "gender": "female"})


def test_a_short_number_is_refused(service):
    for bad in ("12345", "1234567890", "4008123123", "+85291234567", "13912345678x"):
        with pytest.raises(ValidationFailed) as excinfo:
            new_patient(service, bad)
        assert [(e.field, e.code) for e in excinfo.value.errors] == [("phone", "invalid_phone")], bad


def test_the_number_is_stored_as_e164_and_masked_in_national_form(service):
    record = new_patient(service, "１３９ １２３４ ５６７８")
    assert stored_phone(service, record["id"]) == "+8613912345678"
    assert record["phone"] == "+8613912345678"
    assert service.get(FRONT_DESK, "patient", record["id"])["phone"] == "139****5678"
    landline = new_patient(service, "(010) 6552-8888", name="李雷")
    assert stored_phone(service, landline["id"]) == "+861065528888"
    assert service.get(FRONT_DESK, "patient", landline["id"])["phone"] == "010****8888"


def test_every_spelling_of_a_number_is_one_value_for_unique(service):
    new_patient(service, "13912345678")
    with pytest.raises(ValidationFailed) as excinfo:
        new_patient(service, "+86 139 1234 5678", name="李雷")
    assert [(e.field, e.code) for e in excinfo.value.errors] == [("phone", "unique")]


@pytest.mark.parametrize("actor", [SYSTEM, FRONT_DESK], ids=["full_access", "masked"])
def test_search_and_filters_find_the_number_however_it_is_typed(service, actor):
    record = new_patient(service, "13912345678")
    new_patient(service, "13812345678", name="李雷")
    for typed in SPELLINGS:
        assert [r["id"] for r in service.list(actor, "patient", q=typed).items] == [record["id"]], typed
        found = service.list(actor, "patient", filters={"phone": typed}).items
        assert [r["id"] for r in found] == [record["id"]], typed


def test_an_old_number_stored_before_e164_still_reads(service):
    record = new_patient(service, "13912345678")
    table = service.schema.table("patient")
    with service.engine.begin() as connection:
        connection.execute(table.update().where(table.c.id == record["id"]).values(phone="13912345678"))
    assert service.get(SYSTEM, "patient", record["id"])["phone"] == "13912345678"
    assert service.get(FRONT_DESK, "patient", record["id"])["phone"] == "139****5678"
    kind = service.entities["patient"].fields["phone"]
    assert kind.kind.display("13912345678", kind.spec, "en") == "139 1234 5678"


ENCRYPTED = """\
app: {name: phones}
roles:
  admin: {title: Administrator}
  front_desk: {title: Front desk}
entities:
  caller:
    fields:
      name: {type: text}
      phone: {type: phone, encrypted: true, sensitive: true, unique: true}
      hk_phone: {type: phone, region: HK}
    permissions:
      admin: {read: all, write: all, create: true}
      front_desk: {read: [name, phone], write: [name, phone], create: true}
"""


@pytest.fixture
def encrypted(tmp_path, database_url, keyring):
    path = tmp_path / "phones.yaml"
    path.write_text(ENCRYPTED, encoding="utf-8")
    engine = make_engine(database_url)
    service = RecordService(load_blueprint(path).blueprint.entities, engine, keyring)
    service.schema.metadata.create_all(engine)
    create_system_tables(engine)
    yield service
    engine.dispose()


def test_encrypted_phones_are_hashed_in_e164_and_found_by_any_spelling(encrypted, keyring):
    record = encrypted.create(SYSTEM, "caller", {"name": "Ann", "phone": "139 1234 5678", "hk_phone": "9123 4567"})
    assert record["hk_phone"] == "+85291234567"
    table = encrypted.schema.table("caller")
    with encrypted.engine.connect() as connection:
        index = connection.execute(sa.select(table.c.phone__hash)).scalar_one()
    assert index == keyring.blind_index("+8613912345678")
    desk = Actor(7, "desk", "front_desk")
    for typed in SPELLINGS:
        found = encrypted.list(desk, "caller", filters={"phone": typed}).items
        assert [(r["id"], r["phone"]) for r in found] == [(record["id"], "139****5678")], typed
    with pytest.raises(ValidationFailed) as excinfo:
        encrypted.create(SYSTEM, "caller", {"name": "Bob", "phone": "+86 13912345678"})
    assert [(e.field, e.code) for e in excinfo.value.errors] == [("phone", "unique")]
    with pytest.raises(ValidationFailed) as excinfo:
        encrypted.create(SYSTEM, "caller", {"name": "Cy", "phone": "13812345678", "hk_phone": "13912345678"})
    assert [(e.field, e.code) for e in excinfo.value.errors] == [("hk_phone", "invalid_phone")]
