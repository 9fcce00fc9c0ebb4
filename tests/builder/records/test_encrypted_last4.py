"""`last4_search: true`: an encrypted phone found by its last 4 digits, opted in (issue 12).

The clinic template with its patient phone `encrypted` (and, unless a test says
otherwise, `last4_search`), migrated by `crm migrate`'s own plan on SQLite and
PostgreSQL: every write path fills `phone__last4` with a keyed hash, the doctor (full
access) finds patients by 4 digits, the front desk (masked) finds nothing by them,
adding the option to stored rows fills them in resumable batches, removing it drops
the column, and the search uses the column's index.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from builder.errors import BlueprintError
from builder.loading import load_blueprint
from builder.records import SYSTEM, Actor, RecordService
from builder.records.global_search import search_everything
from builder.storage.crypto import Keyring
from builder.storage.database import make_engine
from builder.storage.last4 import last4_hash
from builder.storage.migrations import apply_migration, plan_migration
from builder.storage.migrations.rewrites import pending_rewrites, run_pending_rewrites
from builder.storage.rotation import rotate_keys
from builder.storage.tables import build_schema
from builder.system_tables import create_system_tables
from engines.forms import EntitySpec

LOADED = load_blueprint("blueprints/clinic")
CLINIC = LOADED.blueprint
DOCTOR = Actor(3, "doc", "doctor", locale="en")  # full access to the phone
FRONT_DESK = Actor(7, "desk", "front_desk", locale="en")  # sees the phone masked
PHONES = {"王芳": "13912345678", "李娜": "13800005678", "张伟": "13700001234", "赵敏": "13600009999"}


def clinic(*, encrypted: bool = True, last4: bool = True) -> dict[str, EntitySpec]:
    """The clinic's entities with the patient phone encrypted (not `required`, so it can be emptied)."""
    patient = CLINIC.entities["patient"]
    phone = patient.fields["phone"].model_copy(
        update={"encrypted": encrypted, "last4_search": last4 and encrypted, "required": False}
    )
    search = [name for name in patient.search if name != "phone"] if encrypted else patient.search
    changed = patient.model_copy(update={"fields": {**patient.fields, "phone": phone}, "search": search})
    return {**CLINIC.entities, "patient": changed}


def migrate(engine: sa.Engine, entities: dict[str, EntitySpec], keyring: Keyring, **options) -> list[str]:
    plan = plan_migration(engine, entities)
    apply_migration(engine, plan, keyring=keyring, **options)
    return plan.describe()


@pytest.fixture
def key_path(tmp_path) -> Path:
    return tmp_path / "keys.json"


@pytest.fixture
def keyring(key_path) -> Keyring:
    return Keyring.generate(key_path)


@pytest.fixture
def engine(database_url):
    made = make_engine(database_url)
    yield made
    made.dispose()


def service(engine: sa.Engine, entities: dict[str, EntitySpec], keyring: Keyring) -> RecordService:
    create_system_tables(engine)
    return RecordService(entities, engine, keyring, decision_tables=LOADED.decision_tables)


def add_patients(records: RecordService) -> dict[str, int]:
    return {
        name: records.create(SYSTEM, "patient", {"name": name, "phone": phone, "gender": "female"})["id"]
        for name, phone in PHONES.items()
    }


def stored_last4(engine: sa.Engine) -> dict[int, str | None]:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT id, phone__last4 FROM patient").all())  # type: ignore[arg-type]


def found(records: RecordService, actor: Actor, q: str) -> list[str]:
    return sorted(r["name"] for r in records.list(actor, "patient", q=q).items)


@pytest.fixture
def migrated(engine, keyring):
    entities = clinic()
    lines = migrate(engine, entities, keyring)
    records = service(engine, entities, keyring)
    return records, add_patients(records), lines


def test_every_write_path_keeps_the_keyed_hash_of_the_last_4_digits(migrated, engine, keyring):
    records, ids, _ = migrated
    hashes = stored_last4(engine)
    assert hashes[ids["王芳"]] == last4_hash(keyring.blind_index, "5678") == hashes[ids["李娜"]]
    assert hashes[ids["张伟"]] == last4_hash(keyring.blind_index, "1234")
    # stored as 64-hex keyed hashes, never the digits (a substring check could match hex by chance)
    assert all(value is not None and len(value) == 64 and int(value, 16) >= 0 for value in hashes.values())
    assert hashes[ids["王芳"]] != keyring.blind_index("5678")  # its own domain
    records.update(SYSTEM, "patient", ids["张伟"], {"phone": "137 0000 4321"}, 1)
    records.update(SYSTEM, "patient", ids["赵敏"], {"phone": None}, 1)
    with records.batch(SYSTEM) as batch:  # seed and import write through batches
        made = batch.create("patient", {"name": "钱军", "phone": "13500002468", "gender": "male"})
        batch.update("patient", ids["李娜"], {"phone": "13800001357"}, 1)
    assert made.ok
    hashes = stored_last4(engine)
    assert hashes[ids["张伟"]] == last4_hash(keyring.blind_index, "4321")
    assert hashes[ids["赵敏"]] is None  # empty phone, empty hash
    assert hashes[made.record["id"]] == last4_hash(keyring.blind_index, "2468")
    assert hashes[ids["李娜"]] == last4_hash(keyring.blind_index, "1357")
    assert found(records, DOCTOR, "4321") == ["张伟"] and found(records, DOCTOR, "1234") == []


def test_full_access_finds_by_the_last_4_digits_a_masked_role_finds_nothing(migrated):
    records, _, _ = migrated
    assert found(records, DOCTOR, "5678") == ["李娜", "王芳"]
    assert found(records, DOCTOR, "9999") == ["赵敏"]
    assert found(records, DOCTOR, "0000") == []  # the last 4, not any 4
    assert found(records, DOCTOR, "13912345678") == ["王芳"]  # the whole number still by the blind index
    assert found(records, FRONT_DESK, "5678") == []  # masked: whole values only
    assert found(records, FRONT_DESK, "139 1234 5678") == ["王芳"]
    groups = {g.entity: sorted(i["name"] for i in g.items) for g in search_everything(records, DOCTOR, "5678")}
    assert groups.get("patient") == ["李娜", "王芳"]
    groups = {g.entity: g.items for g in search_everything(records, FRONT_DESK, "5678")}
    assert "patient" not in groups


def test_the_column_is_never_returned(migrated):
    records, ids, _ = migrated
    listed = records.list(DOCTOR, "patient", q="5678").items
    got = records.get(DOCTOR, "patient", ids["王芳"])
    assert all(not key.endswith("__last4") and not key.endswith("__hash") for row in [*listed, got] for key in row)
    assert got["phone"] == "+8613912345678"


def test_the_plan_names_the_column_and_the_search_uses_its_index(migrated):
    records, _, _ = migrated
    statement = records.list_statement(DOCTOR, "patient", q="5678")
    sql = str(statement.compile(dialect=records.engine.dialect, compile_kwargs={"literal_binds": True}))
    assert "phone__last4" in sql
    with records.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # a handful of rows: may the index serve it?
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))
        else:
            plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert "ix_patient_phone__last4" in plan, plan
    assert "SCAN patient\n" not in plan + "\n" and "Seq Scan" not in plan


class Killed(Exception):
    """Stands for a kill after the first committed batch."""


@pytest.mark.parametrize("start", ["encrypted", "plain"])
def test_adding_the_option_fills_stored_rows_in_resumable_batches(engine, keyring, start):
    before = clinic(encrypted=start == "encrypted", last4=False)
    migrate(engine, before, keyring)
    records = service(engine, before, keyring)
    ids = add_patients(records)

    def stop_after_a_batch(description: str, done: int, total: int) -> None:
        if "last 4 digits" in description and done >= 2:
            raise Killed

    entities = clinic()
    plan = plan_migration(engine, entities)
    lines = plan.describe()
    print("\n".join(lines))
    assert any("fill the last 4 digits search index of patient.phone (4 values)" in line for line in lines)
    assert any("add field last 4 digits search index of patient.phone" in line for line in lines)
    with pytest.raises(Killed):
        apply_migration(engine, plan, keyring=keyring, batch_size=2, on_progress=stop_after_a_batch)
    half = stored_last4(engine)
    assert sum(value is not None for value in half.values()) == 2  # one committed batch
    assert [job.step for job in pending_rewrites(engine)] == ["last4"]
    run_pending_rewrites(engine, keyring, batch_size=2)  # the next `crm migrate` finishes it
    assert pending_rewrites(engine) == []
    hashes = stored_last4(engine)
    assert {name: hashes[i] for name, i in ids.items()} == {
        name: last4_hash(keyring.blind_index, phone[-4:]) for name, phone in PHONES.items()
    }
    assert found(service(engine, entities, keyring), DOCTOR, "5678") == ["李娜", "王芳"]
    assert plan_migration(engine, entities).is_empty


def test_removing_the_option_drops_the_column_without_losing_data(migrated, engine, keyring):
    plan = plan_migration(engine, clinic(last4=False))
    assert plan.data_losing == []
    text = "\n".join(plan.describe())
    assert "drop field last 4 digits search index of patient.phone" in text
    apply_migration(engine, plan, keyring=keyring)
    assert "phone__last4" not in {c["name"] for c in sa.inspect(engine).get_columns("patient")}
    records = service(engine, clinic(last4=False), keyring)
    assert found(records, DOCTOR, "5678") == [] and found(records, DOCTOR, "13912345678") == ["王芳"]


def test_key_rotation_keeps_the_hashes_and_the_search(migrated, engine, keyring, key_path):
    before = stored_last4(engine)
    entities = clinic()
    assert rotate_keys(engine, build_schema(entities), entities, keyring, key_path) >= len(PHONES)
    assert stored_last4(engine) == before  # keyed by the index key, which rotation never changes
    rotated = service(engine, entities, Keyring.load(key_path))
    assert found(rotated, DOCTOR, "5678") == ["李娜", "王芳"]


def test_a_renamed_phone_keeps_its_last_4_digits(migrated, engine, keyring):
    patient = clinic()["patient"]
    phone = patient.fields["phone"].model_copy(update={"renamed_from": "phone"})
    fields = {("mobile" if name == "phone" else name): spec for name, spec in patient.fields.items()}
    fields["mobile"] = phone
    renamed = {**clinic(), "patient": patient.model_copy(update={"fields": fields})}
    plan = plan_migration(engine, renamed)
    assert plan.data_losing == [], plan.describe()
    apply_migration(engine, plan, keyring=keyring)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("patient")}
    assert {"mobile", "mobile__hash", "mobile__last4"} <= columns and "phone__last4" not in columns
    assert found(service(engine, renamed, keyring), DOCTOR, "5678") == ["李娜", "王芳"]  # re-encrypted, same hashes


HEAD = "app: {name: demo}\nroles:\n  doctor: {}\nentities:\n  patient:\n    fields:\n      name: {type: text}\n"


@pytest.mark.parametrize(
    "line, problem",
    [
        (
            "      mobile: {type: phone, last4_search: true}\n",
            "bp.yaml:8:29: `last4_search` is for encrypted phones (a phone that is not encrypted is searched by "
            "its last 4 digits already; remove `last4_search`) [field.last4_search_plain]",
        ),
        (
            "      note: {type: text, encrypted: true, last4_search: true}\n",
            "bp.yaml:8:43: `last4_search` does not apply to a `text` field (it applies to encrypted phone fields) "
            "[field.last4_search_type]",
        ),
        (
            "      rows:\n        type: table\n        fields:\n"
            "          mobile: {type: phone, encrypted: true, last4_search: true}\n",
            "bp.yaml:11:50: `last4_search` does not apply to a field of a child table (search looks at the "
            "entity's own fields; remove `last4_search`) [field.last4_search_table]",
        ),
    ],
)
def test_the_option_is_refused_where_it_does_not_fit(tmp_path, monkeypatch, line, problem):
    monkeypatch.chdir(tmp_path)
    Path("bp.yaml").write_text(HEAD + line, encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        load_blueprint("bp.yaml")
    assert [str(p) for p in caught.value.problems] == [problem]


def test_an_encrypted_phone_may_opt_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bp.yaml").write_text(HEAD + "      mobile: {type: phone, encrypted: true, last4_search: true}\n", "utf-8")
    assert load_blueprint("bp.yaml").blueprint.entities["patient"].fields["mobile"].last4_search
