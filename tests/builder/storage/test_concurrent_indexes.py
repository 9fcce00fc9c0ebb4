"""PostgreSQL builds new indexes on a live table CONCURRENTLY, after the migration's transaction.

The proof that writers are not blocked: a transaction that has written to the table
stays open, so the index build must wait for it. A plain CREATE INDEX would wait
holding a lock that queues every later INSERT behind it; CONCURRENTLY waits without
one, so a second writer's INSERT (with a 5 s lock timeout) goes through meanwhile, and
`pg_stat_activity` shows the waiting statement is the CONCURRENTLY one. Bounded: every
wait in the test has a timeout.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import sqlalchemy as sa

from builder.loading import load_blueprint
from builder.storage.database import make_engine
from builder.storage.migrations import apply_migration, migration_sql, plan_migration

BEFORE = """
app: {name: rooms}
entities:
  guest:
    fields:
      name: {type: text, required: true}
      phone: {type: phone, region: CN}
      room: {type: text}
"""
AFTER = """
app: {name: rooms}
entities:
  guest:
    search: [name, phone]
    fields:
      name: {type: text, required: true}
      phone: {type: phone, region: CN}
      room: {type: text, index: true}
"""


def entities(tmp_path, text: str, name: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return load_blueprint(path).blueprint.entities


def insert_guest(conn: sa.Connection, name: str) -> None:
    conn.exec_driver_sql(
        "INSERT INTO guest (name, phone, room, created_at, updated_at, version) "
        f"VALUES ('{name}', '+8613912340000', '101', now(), now(), 1)"
    )


@pytest.fixture
def engine(postgres_url):
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_the_dry_run_shows_the_indexes_built_concurrently_after_the_transaction(engine, tmp_path):
    apply_migration(engine, plan_migration(engine, entities(tmp_path, BEFORE, "before")))
    plan = plan_migration(engine, entities(tmp_path, AFTER, "after"))
    lines = "\n".join(plan.describe())
    assert "add index on guest.room [CONCURRENTLY, after the transaction]" in lines
    assert "add last 4 digits search index on guest.phone [CONCURRENTLY, after the transaction]" in lines
    sql = migration_sql(engine, plan)
    transaction, _, after = sql.partition("-- after the transaction has committed")
    assert 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_guest_room" ON "guest" ("room");' in after
    assert 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "sx_guest_name_prefix"' in after
    statements = [line for line in transaction.splitlines() if not line.startswith("--")]
    assert statements and not any("CONCURRENTLY" in line for line in statements)


@pytest.mark.postgres
def test_a_writer_is_not_blocked_while_the_index_is_built(engine, tmp_path):
    apply_migration(engine, plan_migration(engine, entities(tmp_path, BEFORE, "before")))
    with engine.begin() as conn:
        for i in range(200):
            insert_guest(conn, f"guest {i}")
    plan = plan_migration(engine, entities(tmp_path, AFTER, "after"))

    holder = engine.connect()  # an open write transaction the index build has to wait for
    holder.begin()
    insert_guest(holder, "still typing")
    outcome: dict[str, object] = {}

    def migrate() -> None:
        try:
            apply_migration(engine, plan)
            outcome["done"] = True
        except Exception as exc:  # reported below
            outcome["error"] = exc

    thread = threading.Thread(target=migrate, daemon=True)
    thread.start()
    try:
        waiting = None
        deadline = time.monotonic() + 30
        with engine.connect() as watcher:
            while waiting is None and time.monotonic() < deadline:
                waiting = watcher.exec_driver_sql(
                    "SELECT query FROM pg_stat_activity WHERE starts_with(query, 'CREATE INDEX CONCURRENTLY') "
                    "AND wait_event_type = 'Lock'"
                ).scalar()
                watcher.rollback()  # pg_stat_activity is a snapshot per transaction
                time.sleep(0.05)
        assert waiting is not None, "the index build never waited for the open transaction"
        with engine.connect() as writer:  # a second writer meanwhile: not queued behind the build
            writer.exec_driver_sql("SET lock_timeout = '5s'")
            insert_guest(writer, "walked in")
            writer.commit()
    finally:
        holder.commit()
        holder.close()
        thread.join(timeout=60)
    assert outcome == {"done": True}
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        )
        valid = {name: ok for name, ok in found}
    assert valid["ix_guest_room"] and valid["sx_guest_phone_last4"] and valid["sx_guest_name_prefix"]
    assert plan_migration(engine, entities(tmp_path, AFTER, "after")).is_empty


@pytest.mark.postgres
def test_an_invalid_index_left_by_an_interrupted_build_is_dropped_and_rebuilt(engine, tmp_path):
    after = entities(tmp_path, AFTER, "after")
    apply_migration(engine, plan_migration(engine, after))
    with engine.begin() as conn:
        insert_guest(conn, "a")
        insert_guest(conn, "b")
    autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with autocommit:  # a failed concurrent build leaves its index INVALID (here: duplicates under UNIQUE)
        autocommit.exec_driver_sql('DROP INDEX "sx_guest_name_prefix"')
        with pytest.raises(sa.exc.IntegrityError):
            autocommit.exec_driver_sql('CREATE UNIQUE INDEX CONCURRENTLY "sx_guest_name_prefix" ON guest (room)')
        # a killed build of a plain index: the same catalogue state, set directly
        autocommit.exec_driver_sql(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_guest_room'::regclass"
        )
    plan = plan_migration(engine, after)
    text = "\n".join(plan.describe())
    assert "add prefix search index on guest.name (rebuilding an invalid one" in text
    assert "rebuild index ix_guest_room on guest (invalid" in text
    apply_migration(engine, plan)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT c.relname, i.indisvalid, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname IN ('sx_guest_name_prefix', 'ix_guest_room')"
        ).all()
    assert sorted(rows) == [("ix_guest_room", True, False), ("sx_guest_name_prefix", True, False)]


def test_sqlite_makes_the_search_indexes_again_after_copying_a_table(tmp_path):
    """SQLite alters a column by copying the table; the copy would lose the expression indexes.

    A longer text keeps the table (only its declared type changes), and with it every index."""
    engine = make_engine(f"sqlite:///{tmp_path / 'rooms.db'}")
    try:
        narrow = AFTER.replace("room: {type: text, index: true}", "room: {type: text, max_length: 10, index: true}")
        wide = AFTER.replace("room: {type: text, index: true}", "room: {type: text, max_length: 40, index: true}")
        apply_migration(engine, plan_migration(engine, entities(tmp_path, narrow, "narrow")))
        plan = plan_migration(engine, entities(tmp_path, wide, "wide"))  # longer text: no copy (sqlite_retype.py)
        assert "again: the table is copied" not in "\n".join(plan.describe())
        apply_migration(engine, plan)
        number = wide.replace("room: {type: text, max_length: 40, index: true}", "room: {type: integer, index: true}")
        plan = plan_migration(engine, entities(tmp_path, number, "number"))  # text -> integer: SQLite copies
        assert "add prefix search index on guest.name (again: the table is copied)" in "\n".join(plan.describe())
        apply_migration(engine, plan, allow_data_loss=True)
        with engine.connect() as conn:
            found = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index'").all())
        assert {"sx_guest_name_prefix", "sx_guest_phone_last4", "ix_guest_room"} <= set(found)
        assert found["sx_guest_name_prefix"].endswith('("name" COLLATE NOCASE)')  # the copy kept it, not its collation
        assert plan_migration(engine, entities(tmp_path, number, "number")).is_empty
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_long_text_gets_no_btree_prefix_index_so_long_values_still_save(engine, tmp_path):
    """A btree entry holds ~2,700 bytes: a 3,000-character note would fail to INSERT under a prefix index."""
    blueprint = AFTER.replace("search: [name, phone]", "search: [name, phone, notes]").replace(
        "room: {type: text, index: true}", "room: {type: text, index: true}\n      notes: {type: long_text}"
    )
    plan = plan_migration(engine, entities(tmp_path, blueprint, "notes"))
    text = "\n".join(plan.describe())
    assert "substring (trigram) search index on guest.notes" in text
    assert "prefix search index on guest.notes" not in text
    apply_migration(engine, plan)
    rng = random.Random(7)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO guest (name, notes, created_at, updated_at, version) VALUES ('a', %(n)s, now(), now(), 1)",
            {"n": "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(3000))},  # incompressible
        )
