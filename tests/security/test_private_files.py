"""Database files and migration backups are readable by their owner only, and keep ciphertext as stored.

Run under a umask of 022, which would otherwise make every new file 0644.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from live_server import resident_id

from builder.loading import load_blueprint
from builder.records import SYSTEM, RecordService
from builder.storage.crypto import Keyring
from builder.storage.database import make_engine
from builder.storage.migrations import apply_migration, plan_migration
from builder.system_tables import create_system_tables

BLUEPRINT = """
patient:
  fields:
    name: {type: text, max_length: 40}
    id_number: {type: cn_resident_id, encrypted: true}
    notes: {type: long_text}
"""


@pytest.fixture(autouse=True)
def _loose_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def entities_from(folder: Path, yaml_entities: str, name: str) -> dict:
    path = folder / f"{name}.yaml"
    body = "\n".join("  " + line for line in yaml_entities.strip().splitlines())
    path.write_text(f"app: {{name: private_files}}\nentities:\n{body}\n", encoding="utf-8")
    return load_blueprint(path).blueprint.entities


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _migrated(engine: sa.Engine, entities) -> None:
    apply_migration(engine, plan_migration(engine, entities), keyring=None)
    create_system_tables(engine)


def test_a_new_sqlite_database_and_its_wal_files_are_0600(tmp_path):
    path = tmp_path / "crm.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        create_system_tables(engine)
        with engine.connect() as connection:  # the WAL and shared-memory files exist while connected
            connection.execute(sa.text("SELECT count(*) FROM crm_user"))
            files = [p for p in tmp_path.iterdir() if p.name.startswith("crm.sqlite3")]
            assert {p.name for p in files} >= {"crm.sqlite3", "crm.sqlite3-wal", "crm.sqlite3-shm"}
            assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        engine.dispose()


def test_a_backup_holds_ciphertext_as_stored_and_is_private(engine, tmp_path):
    entities = entities_from(tmp_path, BLUEPRINT, "before")
    _migrated(engine, entities)
    keyring = Keyring.generate()
    secret = resident_id(7)
    service = RecordService(entities, engine, keyring)
    service.create(SYSTEM, "patient", {"name": "Ann Lee", "id_number": secret, "notes": "penicillin"})
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT id_number FROM patient")).scalar_one()

    backups = tmp_path / "backups" / "before-drop"
    dropped = entities_from(tmp_path, BLUEPRINT.replace("    notes: {type: long_text}\n", ""), "after")
    result = apply_migration(
        engine, plan_migration(engine, dropped), allow_data_loss=True, backup_dir=backups, keyring=keyring
    )
    files = [result.backup] if result.backup.is_file() else sorted(result.backup.iterdir())
    content = b"".join(path.read_bytes() for path in files)
    assert secret.encode() not in content and secret.lower().encode() not in content
    assert stored.encode() in content, "the backup keeps the stored ciphertext"
    assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
    folders = {p for p in (result.backup, *result.backup.parents) if p.is_dir() and tmp_path in p.parents}
    assert {str(p): mode(p) for p in folders} == {str(p): 0o700 for p in folders}
