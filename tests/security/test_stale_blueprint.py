"""Servers and workers never serve or write a stale blueprint after `crm migrate` (issue 12).

Before, a server started ahead of a migration that encrypted `email` returned the
ciphertext `v1:k1:…` as the e-mail until it was restarted.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from live_server import LiveServer, clinic_project, run_cli

from builder.following import BlueprintFollower
from builder.records import SYSTEM
from builder.runtime import open_runtime
from builder.storage.blueprint_version import StaleBlueprint

PATIENT_FILE = "blueprint/entities/patient.yaml"


def _encrypt_email_and_add_a_field(root) -> None:
    """The blueprint change: `email` becomes encrypted, and a new field appears."""
    path = root / PATIENT_FILE
    text = path.read_text(encoding="utf-8")
    old = "email:       {type: email, label:"
    assert old in text
    text = text.replace(old, "email:       {type: email, encrypted: true, label:")
    text = text.replace(
        "    email:", "    nickname:    {type: text, label: {en: Nickname, zh-CN: 昵称}}\n    email:", 1
    )
    path.write_text(text, encoding="utf-8")


def test_a_running_server_follows_a_migration_that_encrypts_a_field(tmp_path, database_url):
    project = clinic_project(tmp_path, database_url, patients=1)
    patient_id = project.patients[0]["id"]
    with LiveServer(project, tmp_path / "serve.log") as server:
        created = server.client.post("/api/patient", json={"name": "Mail", "phone": "13912340099", "email": "a@b.cn"})
        assert created.status_code == 201, created.text
        _encrypt_email_and_add_a_field(project.root)
        run_cli("migrate", "-p", str(project.root), "--yes")
        shown = server.client.get(f"/api/patient/{created.json()['id']}")
        assert shown.status_code == 200, server.log_text()
        assert shown.json()["email"] == "a@b.cn"  # not the ciphertext
        assert "nickname" in shown.json()  # the new blueprint, without a restart
        updated = server.client.patch(
            f"/api/patient/{patient_id}",
            json={
                "nickname": "Old friend",
                "email": "x@y.cn",
                "version": server.client.get(f"/api/patient/{patient_id}").json()["version"],
            },
        )
        assert updated.status_code == 200, updated.text
    with sa.create_engine(database_url).connect() as conn:
        stored = conn.execute(sa.text("SELECT email FROM patient WHERE id = :id"), {"id": patient_id}).scalar_one()
    assert stored.startswith("v1:") and "x@y.cn" not in stored  # written encrypted, by the new blueprint


def test_a_write_of_the_old_blueprint_is_refused_after_a_migration_and_the_follower_swaps(tmp_path, database_url):
    project = clinic_project(tmp_path, database_url, patients=0)
    runtime = open_runtime(project.root)
    follower = BlueprintFollower(runtime, lambda: open_runtime(project.root))
    try:
        _encrypt_email_and_add_a_field(project.root)
        run_cli("migrate", "-p", str(project.root), "--yes")
        with pytest.raises(StaleBlueprint):
            runtime.records.create(SYSTEM, "patient", {"name": "Late", "phone": "13912340001", "email": "l@t.cn"})
        assert runtime.records.list(SYSTEM, "patient", q="Late").total == 0  # nothing half-written
        fresh = follower.current()
        assert fresh is not None and fresh is not runtime and "nickname" in fresh.records.entities["patient"].fields
        made = fresh.records.create(SYSTEM, "patient", {"name": "Late", "phone": "13912340001", "email": "l@t.cn"})
        assert fresh.records.get(SYSTEM, "patient", made["id"])["email"] == "l@t.cn"
    finally:
        follower.runtime.close()


def test_an_unmigrated_edit_on_disk_makes_the_server_wait_not_guess(tmp_path, database_url):
    """Migrated from elsewhere while this disk holds another blueprint: 503 "updating", never old data."""
    project = clinic_project(tmp_path, database_url, patients=1)
    runtime = open_runtime(project.root)
    follower = BlueprintFollower(runtime, lambda: open_runtime(project.root))
    try:
        _encrypt_email_and_add_a_field(project.root)
        run_cli("migrate", "-p", str(project.root), "--yes")
        path = project.root / PATIENT_FILE
        path.write_text(path.read_text(encoding="utf-8").replace("nickname:", "alias:"), encoding="utf-8")
        assert follower.current() is None
    finally:
        follower.runtime.close()


@pytest.mark.postgres
def test_writes_in_flight_hold_a_migration_off_and_later_ones_are_refused(tmp_path, postgres_url):
    """On PostgreSQL a migration waits for writes in flight; a write started during it is refused after it."""
    from builder.storage.database import write_transaction

    project = clinic_project(tmp_path, postgres_url, patients=0)
    runtime = open_runtime(project.root)
    BlueprintFollower(runtime, lambda: open_runtime(project.root))
    migrated = threading.Event()
    try:
        _encrypt_email_and_add_a_field(project.root)
        with write_transaction(runtime.engine):  # a write in flight: holds the migration off
            migration = threading.Thread(
                target=lambda: (run_cli("migrate", "-p", str(project.root), "--yes"), migrated.set())
            )
            migration.start()
            assert not migrated.wait(1.5)
        migration.join(timeout=60)
        assert migrated.is_set()
        with pytest.raises(StaleBlueprint):
            runtime.records.create(SYSTEM, "patient", {"name": "After", "phone": "13912340002"})
    finally:
        runtime.close()
