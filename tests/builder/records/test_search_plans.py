"""`q` uses an index for a whole phone, the last 4 digits and a name prefix, on both databases.

The clinic's tables are made by `crm migrate`'s own plan (so the search indexes are the
ones a project gets), then the statement `list()` would run is EXPLAINed: the plan text
must name the index. That is behaviour (which access path the database may take), not
timing. On PostgreSQL a handful of rows would always be read sequentially, so the test
turns sequential scans off for its EXPLAIN: the question is whether the index *can* serve
the query (its expression matches), which is what a million rows need.
"""

from __future__ import annotations

import pytest

from builder.loading import load_blueprint
from builder.records import SYSTEM, Actor, RecordService
from builder.storage.crypto import Keyring
from builder.storage.database import make_engine
from builder.storage.migrations import plan_migration
from builder.system_tables import create_system_tables

LOADED = load_blueprint("blueprints/clinic")
CLINIC = LOADED.blueprint
DOCTOR = Actor(3, "doc", "doctor", locale="en")  # full access to the phone
FRONT_DESK = Actor(7, "desk", "front_desk", locale="en")  # sees the phone masked


@pytest.fixture
def migrated(migrated_clinic):
    records, plan = migrated_clinic
    names = ["王芳", "王伟", "李王", "张三", "Wang Li", "wanda"]
    for i, name in enumerate(names):
        records.create(SYSTEM, "patient", {"name": name, "phone": f"1391234{i:04d}", "gender": "female"})
    return records, plan


def plan_of(records: RecordService, actor: Actor, q: str) -> str:
    statement = records.list_statement(actor, "patient", q=q)
    sql = str(statement.compile(dialect=records.engine.dialect, compile_kwargs={"literal_binds": True}))
    with records.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))
        return "\n".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


def found(records: RecordService, actor: Actor, q: str) -> list[str]:
    return sorted(r["name"] for r in records.list(actor, "patient", q=q).items)


def test_the_plan_lists_the_search_indexes(migrated):
    _, plan = migrated
    text = "\n".join(plan.describe())
    assert "add last 4 digits search index on patient.phone" in text
    assert "add prefix search index on patient.name" in text
    if plan.dialect == "postgresql":
        assert "add substring (trigram) search index on patient.name [CONCURRENTLY, after the transaction]" in text


def test_a_whole_phone_uses_the_phones_unique_index(migrated):
    records, _ = migrated
    assert found(records, DOCTOR, "139 1234 0001") == ["王伟"]
    plan = plan_of(records, DOCTOR, "139 1234 0001")
    if records.engine.dialect.name == "postgresql":
        assert "uq_patient_phone" in plan
    else:  # SQLite names a UNIQUE constraint's index itself
        assert "USING INDEX sqlite_autoindex_patient_1 (phone=?)" in plan
    assert "SCAN patient" not in plan and "Seq Scan" not in plan
    assert found(records, FRONT_DESK, "13912340001") == ["王伟"]  # a whole value: allowed masked (counted)


def test_the_last_4_digits_use_the_last4_index_for_full_access_only(migrated):
    records, _ = migrated
    assert found(records, DOCTOR, "0002") == ["李王"]
    assert "sx_patient_phone_last4" in plan_of(records, DOCTOR, "0002")
    assert found(records, FRONT_DESK, "0002") == []  # masked: whole values only
    assert "sx_patient_phone_last4" not in plan_of(records, FRONT_DESK, "0002")


def test_a_name_prefix_uses_the_prefix_index(migrated):
    records, _ = migrated
    assert found(records, DOCTOR, "王") == ["王伟", "王芳"]  # family name first: 李王 is not a prefix match
    assert found(records, DOCTOR, "wa") == ["Wang Li", "wanda"]  # case folded
    for q in ("王", "Wa"):
        assert "sx_patient_name_prefix" in plan_of(records, DOCTOR, q)


def test_three_characters_or_more_match_anywhere(migrated):
    records, _ = migrated
    assert found(records, DOCTOR, "ang") == ["Wang Li"]
    assert found(records, DOCTOR, "NDA") == ["wanda"]
    if records.engine.dialect.name == "postgresql":
        assert "sx_patient_name_trigram" in plan_of(records, DOCTOR, "ang")


def test_a_second_plan_is_empty(migrated):
    records, _ = migrated
    assert plan_migration(records.engine, CLINIC.entities).is_empty


def test_list_views_sort_and_quick_filters_get_indexes(database_url, tmp_path):
    """`views:` (list views) comes from another part of the builder: read defensively, indexed when present."""
    from types import SimpleNamespace

    from builder.storage.search_indexes import create_search_indexes, live_indexes, planned_search_indexes
    from builder.storage.tables import build_schema

    viewed = CLINIC.entities["patient"].model_copy()
    view = SimpleNamespace(kind=lambda name: "list", sort="-birth_date", filters=["stage"])
    object.__setattr__(viewed, "views", {"list": view})
    entities = {**CLINIC.entities, "patient": viewed}
    engine = make_engine(database_url)
    try:
        assert "sx_patient_birth_date_sort_desc" in {i.name for i in planned_search_indexes(entities, "sqlite")}
        build_schema(entities).metadata.create_all(engine)
        with engine.begin() as conn:
            create_search_indexes(conn, entities)
            made = live_indexes(conn)
        assert {"ix_patient_stage", "sx_patient_birth_date_sort_desc"} <= set(made)
        create_system_tables(engine)
        keyring = Keyring.generate(tmp_path / "keys.json")
        records = RecordService(CLINIC.entities, engine, keyring, decision_tables=LOADED.decision_tables)
        statement = records.list_statement(DOCTOR, "patient", filters={"stage": "active"}, sort="-birth_date")
        sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET enable_seqscan = off")
                plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))
                assert "sx_patient_birth_date_sort_desc" in plan or "ix_patient_stage" in plan
                conn.exec_driver_sql("SET enable_bitmapscan = off")
                conn.exec_driver_sql("DROP INDEX ix_patient_stage")
                plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))
                assert "sx_patient_birth_date_sort_desc" in plan and "Sort" not in plan.split("->")[0]
                conn.rollback()
            else:
                plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                assert "ix_patient_stage" in plan or "sx_patient_birth_date_sort_desc" in plan
    finally:
        engine.dispose()
