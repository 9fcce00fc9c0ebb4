"""A database made when ids were 32-bit is widened to 64-bit by `crm migrate`, keeping every row.

Earlier versions created `id`, link and `parent_id` columns as INTEGER; they are BIGINT
now (SQLite's INTEGER is 64-bit already, so nothing changes there). The planner must
see a widening that loses nothing, not refuse it as data loss, and new ids past 2^31
must then be storable, sequences included.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from storage_helpers import insert, rows

from builder.storage.migrations import apply_migration, plan_migration
from builder.storage.tables import build_schema

BLUEPRINT = """
patient:
  fields:
    name: {type: text, max_length: 40}
visit:
  fields:
    patient: {type: link, to: patient}
    prescriptions:
      type: table
      fields:
        drug: {type: text, max_length: 60}
"""
WIDENED = {
    ("patient", "id"),
    ("visit", "id"),
    ("visit", "patient"),
    ("visit__prescriptions", "id"),
    ("visit__prescriptions", "parent_id"),
}


def _create_as_old_code_did(engine: sa.Engine, entities) -> None:
    """The blueprint's tables with every 64-bit id column made INTEGER, as before."""
    metadata = build_schema(entities).metadata
    for table in metadata.tables.values():
        for column in table.columns:
            if (table.name, column.name) in WIDENED:
                column.type = sa.Integer()
    metadata.create_all(engine)


@pytest.fixture
def old_database(engine, entities_from):
    entities = entities_from(BLUEPRINT)
    _create_as_old_code_did(engine, entities)
    insert(engine, "patient", {"name": "Ann Lee"}, {"name": "Bob Wu"})
    insert(engine, "visit", {"patient": 2})
    insert(engine, "visit__prescriptions", {"parent_id": 1, "position": 0, "drug": "aspirin"})
    return engine, entities


def test_migrate_widens_ids_and_links_without_refusing(old_database):
    engine, entities = old_database
    plan = plan_migration(engine, entities)
    plan.check()  # neither blocked nor data-losing
    if engine.dialect.name == "sqlite":
        assert plan.is_empty, plan.describe()
        return
    described = "\n".join(plan.describe())
    assert len(plan.steps) == len(WIDENED), described
    assert "LOSES DATA" not in described and "BLOCKED" not in described
    apply_migration(engine, plan)
    assert plan_migration(engine, entities).is_empty
    inspector = sa.inspect(engine)
    for table, column in WIDENED:
        types = {c["name"]: str(c["type"]) for c in inspector.get_columns(table)}
        assert types[column] == "BIGINT", (table, column)
    assert rows(engine, "visit", "patient") == [(2,)]
    assert rows(engine, "visit__prescriptions", "parent_id", "drug") == [(1, "aspirin")]


def test_after_widening_ids_past_32_bits_are_stored(old_database):
    engine, entities = old_database
    apply_migration(engine, plan_migration(engine, entities))
    big = 2**40
    insert(engine, "patient", {"id": big, "name": "Cao Min"})
    insert(engine, "visit", {"patient": big})
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:  # the id sequence may pass 2^31 too
            connection.execute(sa.text("SELECT setval(pg_get_serial_sequence('visit', 'id'), :n)"), {"n": big})
    insert(engine, "visit", {"patient": big})
    assert rows(engine, "visit", "patient")[-2:] == [(big,), (big,)]


def _narrow_to_old_ids(url: str) -> int:
    """Turn the clinic's BIGINT id/link columns and sequences back into INTEGER; how many columns changed."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            found = connection.execute(
                sa.text(
                    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                    "AND data_type = 'bigint' AND table_name NOT LIKE 'crm%'"
                )
            ).all()
            for table, column in found:
                connection.execute(sa.text(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE INTEGER'))
            for (sequence,) in connection.execute(
                sa.text(
                    "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public' "
                    "AND sequence_name NOT LIKE 'crm%'"
                )
            ).all():
                connection.execute(sa.text(f'ALTER SEQUENCE "{sequence}" AS INTEGER'))
        return len(found)
    finally:
        engine.dispose()


def test_crm_migrate_widens_an_old_clinic_database(tmp_path, postgres_url, monkeypatch):
    from click.testing import CliRunner

    from builder.cli import main

    monkeypatch.setenv("CRM_DATABASE_URL", postgres_url)
    monkeypatch.setenv("CRM_KEY_FILE", str(tmp_path / "keys" / "crm-keys.json"))
    monkeypatch.delenv("CRM_ENCRYPTION_KEYS", raising=False)
    runner = CliRunner()
    project = tmp_path / "clinic"

    def crm(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    crm("init", str(project))
    crm("migrate", "-p", str(project), "--yes")
    crm("seed", "-p", str(project), "--patients", "5")
    narrowed = _narrow_to_old_ids(postgres_url)
    assert narrowed >= 10
    output = crm("migrate", "-p", str(project), "--yes")
    assert output.count("INTEGER -> BIGINT") == narrowed, output
    assert "LOSES DATA" not in output and "Applied" in output
    assert "already matches" in crm("migrate", "-p", str(project))
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            kinds = (
                connection.execute(
                    sa.text(
                        "SELECT DISTINCT data_type FROM information_schema.sequences WHERE sequence_schema = 'public' "
                        "AND sequence_name NOT LIKE 'crm%'"
                    )
                )
                .scalars()
                .all()
            )
            patients = connection.execute(sa.text("SELECT count(*) FROM patient")).scalar_one()
    finally:
        engine.dispose()
    assert kinds == ["bigint"] and patients == 5


@pytest.mark.postgres
def test_an_old_audit_table_is_widened_on_start(postgres_url):
    """`crm_audit` made with 32-bit ids (and its sequence) becomes 64-bit when the app starts."""
    from builder.storage.database import make_engine
    from builder.system_tables import audit, create_system_tables

    engine = make_engine(postgres_url)
    try:
        create_system_tables(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE crm_audit ALTER COLUMN id TYPE INTEGER"))
            conn.execute(sa.text("ALTER TABLE crm_audit ALTER COLUMN record_id TYPE INTEGER"))
            conn.execute(sa.text("ALTER SEQUENCE crm_audit_id_seq AS INTEGER"))
        create_system_tables(engine)  # what every start does
        types = {c["name"]: type(c["type"]) for c in sa.inspect(engine).get_columns("crm_audit")}
        assert issubclass(types["id"], sa.BigInteger) and issubclass(types["record_id"], sa.BigInteger)
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT setval('crm_audit_id_seq', 3000000000)"))
            values = {"at": sa.func.now(), "action": "view", "entity": "patient", "record_id": 2**40}
            new_id = conn.execute(audit.insert().values(**values).returning(audit.c.id)).scalar_one()
        assert new_id > 2**31
        create_system_tables(engine)  # and a second start changes nothing
    finally:
        engine.dispose()
