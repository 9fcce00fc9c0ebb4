"""A process's keyring follows the database's active key; prune waits for live processes, not dead ones."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from test_storage_crypto import _entities

from builder.errors import ProjectError
from builder.records import SYSTEM, RecordService
from builder.storage.crypto import Keyring, KeyringError, key_id_of
from builder.storage.database import make_engine, write_transaction
from builder.storage.keys import ENV_VARIABLE
from builder.storage.keystate import set_active_key, utcnow
from builder.storage.keysync import SharedKeyring
from builder.storage.migrations import apply_migration, plan_migration
from builder.storage.rotation import prune_keys, rotate_keys
from builder.storage.tables import build_schema
from builder.system_tables import create_system_tables, key_users
from engines.forms.fieldtypes.identity import resident_id_check_digit

SECRET = "11010519491231002" + resident_id_check_digit("11010519491231002")
OTHER = "11010519800501123" + resident_id_check_digit("11010519800501123")


@pytest.fixture(autouse=True)
def no_keys_in_environment(monkeypatch):
    monkeypatch.delenv(ENV_VARIABLE, raising=False)


@pytest.fixture
def setup(engine, tmp_path):
    entities = _entities(tmp_path)
    apply_migration(engine, plan_migration(engine, entities))
    create_system_tables(engine)
    key_path = tmp_path / "keys.json"
    Keyring.generate(key_path)
    shared = SharedKeyring.open(engine, key_path)
    yield engine, entities, key_path, shared, RecordService(entities, engine, shared)
    shared.close()


def _rotate(engine, entities, key_path, prune=False):
    return rotate_keys(engine, build_schema(entities), entities, Keyring.load(key_path), key_path, prune=prune)


def _prune(engine, entities, key_path):
    return prune_keys(engine, build_schema(entities), entities, Keyring.load(key_path), key_path)


def _stored(engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT id_number FROM patient ORDER BY id")).scalars())


def test_a_process_follows_a_rotation_made_elsewhere(setup):
    engine, entities, key_path, shared, service = setup
    first = service.create(SYSTEM, "patient", {"name": "a", "id_number": SECRET})
    _rotate(engine, entities, key_path)
    assert shared.active_key_id == "k1", "nothing told this process yet"
    assert service.get(SYSTEM, "patient", first["id"])["id_number"] == SECRET  # reloads the key file
    service.create(SYSTEM, "patient", {"name": "b", "id_number": OTHER})
    assert [key_id_of(t) for t in _stored(engine)] == ["k2", "k2"]
    assert shared.active_key_id == "k2"


def test_prune_waits_for_live_processes_but_not_for_stale_heartbeats(setup):
    engine, entities, key_path, shared, service = setup
    service.create(SYSTEM, "patient", {"name": "a", "id_number": SECRET})
    _rotate(engine, entities, key_path)
    with pytest.raises(ProjectError, match=f"{shared.process} uses k1"):
        _prune(engine, entities, key_path)
    with engine.begin() as connection:  # the process died ten minutes ago without saying goodbye
        connection.execute(sa.update(key_users).values(seen_at=utcnow() - dt.timedelta(minutes=10)))
    assert _prune(engine, entities, key_path) == ["k1"]
    assert Keyring.load(key_path).key_ids == ["k2"]
    assert service.list(SYSTEM, "patient").items[0]["id_number"] == SECRET


def test_a_heartbeat_moves_an_idle_process_on(setup):
    engine, entities, key_path, shared, _service = setup
    _rotate(engine, entities, key_path)
    shared.refresh()
    assert _prune(engine, entities, key_path) == ["k1"]


def test_a_process_refuses_to_write_under_a_key_its_file_lacks(setup):
    engine, entities, key_path, _shared, service = setup
    stale_copy = Keyring.load(key_path)
    _rotate(engine, entities, key_path)
    stale_copy.save(key_path)  # an operator put back an old key file
    with pytest.raises(KeyringError, match="`k2`, which the key file lacks"):
        service.create(SYSTEM, "patient", {"name": "a", "id_number": SECRET})
    assert _stored(engine) == []


@pytest.mark.postgres
def test_on_postgresql_a_rotation_waits_for_writes_under_way(postgres_url, tmp_path):
    engine = make_engine(postgres_url)
    other = make_engine(postgres_url)
    create_system_tables(engine)
    Keyring.generate(tmp_path / "keys.json")
    shared = SharedKeyring.open(engine, tmp_path / "keys.json")
    try:
        # A write under way has read k1: the rotation's change must wait for it.
        with (
            write_transaction(engine),
            other.connect() as rotation,
            pytest.raises(sa.exc.OperationalError, match="lock"),
            rotation.begin(),
        ):
            rotation.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
            set_active_key(rotation, "k2")
        with other.begin() as rotation:  # once it is done, the rotation goes through
            set_active_key(rotation, "k2")
    finally:
        shared.close()
        other.dispose()
        engine.dispose()


def test_a_writing_transaction_checks_key_and_blueprint_in_one_round_trip_on_postgresql(setup):
    """The checks every write makes first (migration lock, migrated blueprint, active key) cost one
    statement on PostgreSQL, sent at BEGIN; a migration landing meanwhile still refuses the write."""
    from builder.storage.blueprint_version import StaleBlueprint, guard_writes, read_applied_version
    from builder.storage.migrations.history import history

    engine, *_ = setup
    version = read_applied_version(engine).id
    guard_writes(engine, lambda: version)
    sent: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    with write_transaction(engine) as conn:
        conn.execute(sa.text("SELECT 1"))
    checks = [s for s in sent if s != "SELECT 1"]
    if engine.dialect.name == "postgresql":
        assert len(checks) == 1 and checks[0].count(";") == 2, checks  # lock; version; key
        assert "pg_advisory_xact_lock_shared" in checks[0] and "FOR SHARE" in checks[0]
    else:  # SQLite: BEGIN IMMEDIATE, then the version and the key (its write lock stands for the others)
        assert [s.split()[0] for s in checks] == ["BEGIN", "SELECT", "SELECT"], checks
    with engine.begin() as conn:  # a migration lands elsewhere
        conn.execute(
            history.insert().values(
                id=version + 1, blueprint_hash="newer", applied_at=utcnow(), applied_by="t", summary="", tables="[]"
            )
        )
    with pytest.raises(StaleBlueprint), write_transaction(engine) as conn:
        conn.execute(sa.text("SELECT 1"))
    sent.clear()
    with write_transaction(engine, checks=False) as conn:  # the outbox's own bookkeeping: no checks, no refusal
        conn.execute(sa.text("SELECT 1"))
    assert [s for s in sent if s != "SELECT 1"] == ([] if engine.dialect.name == "postgresql" else ["BEGIN IMMEDIATE"])
