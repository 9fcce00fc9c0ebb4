"""`crm migrate` encrypts an existing field in committed batches, resumes after a kill, never double-encrypts,
and servers reading meanwhile never see ciphertext (issue 12, "Migrations that don't stall")."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner
from live_server import ClinicProject, clinic_project, run_cli
from rewrite_progress import kill_mid_rewrite, rewrite_progress

from builder.cli import main
from builder.records import SYSTEM
from builder.runtime import load_checked, open_runtime
from builder.storage.crypto import Keyring
from builder.storage.database import make_engine
from builder.storage.migrations import apply_migration, plan_migration
from builder.storage.migrations.rewrites import PROGRESS_TABLE, pending_rewrites

PATIENT_FILE = "blueprint/entities/patient.yaml"


def _encrypt_email(root: Path) -> None:
    path = root / PATIENT_FILE
    text = path.read_text(encoding="utf-8")
    old = "email:       {type: email, label:"
    assert old in text
    path.write_text(text.replace(old, "email:       {type: email, encrypted: true, label:"), encoding="utf-8")


def _add_patients(project: ClinicProject, count: int) -> dict[int, str]:
    """`count` more patients with plain e-mails, inserted in bulk; {id: e-mail} of every patient with one."""
    engine = make_engine(project.database_url)
    try:
        with engine.begin() as connection:
            table = sa.Table("patient", sa.MetaData(), autoload_with=connection)
            template = dict(connection.execute(sa.select(table).limit(1)).one()._mapping)
            for column in ("id", "id_number", "id_number__hash"):
                template.pop(column, None)
            connection.execute(
                table.insert(),
                [
                    {**template, "name": f"Bulk {n}", "phone": f"137{n:08d}", "email": f"p{n}@clinic.cn"}
                    for n in range(count)
                ],
            )
            return dict(
                connection.execute(sa.select(table.c.id, table.c.email).where(table.c.email.is_not(None))).all()
            )
    finally:
        engine.dispose()


def _stored(project: ClinicProject, *columns: str) -> list[tuple]:
    engine = make_engine(project.database_url)
    try:
        with engine.connect() as connection:
            return [
                tuple(r) for r in connection.execute(sa.text(f"SELECT {', '.join(columns)} FROM patient ORDER BY id"))
            ]
    finally:
        engine.dispose()


def _assert_encrypted_once(project: ClinicProject, emails: dict[int, str]) -> None:
    keyring = Keyring.load(project.key_file)
    for row_id, token, index in _stored(project, "id", "email", "email__hash"):
        if row_id in emails:
            assert keyring.decrypt(token, "patient.email") == emails[row_id]  # a second layer would decrypt to v1:…
            assert index == keyring.blind_index(emails[row_id])


def test_encrypting_email_runs_in_committed_batches_while_reads_stay_plain(tmp_path, database_url):
    project = clinic_project(tmp_path, database_url, patients=1)
    emails = _add_patients(project, 2500)
    _encrypt_email(project.root)
    loaded = load_checked(project.root / "blueprint")
    engine = make_engine(project.database_url)
    seen: list[int] = []
    mixed: list[bool] = []
    readers = []

    def between_batches(description: str, done: int, total: int) -> None:
        assert description == "encrypting patient.email" and total == len(emails)
        seen.append(done)
        if not readers:  # a server that opened after the schema change, during the rewrite
            readers.append(open_runtime(project.root))
        page = readers[0].records.list(SYSTEM, "patient", limit=500, offset=max(0, done - 250))
        assert page.items and not any(str(r.get("email")).startswith("v1:") for r in page.items)
        assert all(r["email"] == emails[r["id"]] for r in page.items if r["id"] in emails)
        if done == 500:  # a server edits a row the rewrite has not reached: written encrypted, then skipped
            last = max(emails)
            current = readers[0].records.get(SYSTEM, "patient", last)
            readers[0].records.update(SYSTEM, "patient", last, {"email": "edited@clinic.cn"}, current["version"])
            emails[last] = "edited@clinic.cn"
        stored = [e for (e,) in _stored(project, "email") if e is not None]
        mixed.append(any(e.startswith("v1:") for e in stored) and not all(e.startswith("v1:") for e in stored))

    try:
        plan = plan_migration(engine, loaded.blueprint.entities, loaded.blueprint.app.timezone)
        apply_migration(
            engine, plan, keyring=Keyring.load(project.key_file), batch_size=500, on_progress=between_batches
        )
    finally:
        for runtime in readers:
            runtime.close()
        engine.dispose()
    assert len(emails) == 2500 and seen == [0, 500, 1000, 1500, 2000, 2500]  # five committed batches
    assert any(mixed)  # the reads above really ran against a half-encrypted column
    _assert_encrypted_once(project, emails)
    assert pending_rewrites(make_engine(project.database_url)) == []
    assert "already matches" in run_cli("migrate", "-p", str(project.root), "--yes")


def test_a_migration_killed_mid_rewrite_resumes_and_every_value_decrypts_once(tmp_path, database_url):
    project = clinic_project(tmp_path, database_url, patients=1)
    emails = _add_patients(project, 20000)
    _encrypt_email(project.root)
    killed_at = kill_mid_rewrite(project)
    assert killed_at is not None and 0 < killed_at[0] < len(emails) and not killed_at[1], killed_at
    stored = [e for (e,) in _stored(project, "email") if e is not None]
    assert any(e.startswith("v1:") for e in stored) and not all(e.startswith("v1:") for e in stored)

    refused = CliRunner().invoke(main, ["keys", "rotate", "-p", str(project.root)])
    assert refused.exit_code != 0 and "is still encrypting patient.email" in refused.output, refused.output
    assert "Finishing 1 interrupted data rewrite" in run_cli("migrate", "-p", str(project.root), "--dry-run")

    output = run_cli("migrate", "-p", str(project.root), "--yes")
    assert "Finishing 1 interrupted data rewrite" in output and "already matches" in output, output
    assert rewrite_progress(project) == (len(emails), True)
    _assert_encrypted_once(project, emails)

    # Even with its done marker lost, a rewrite recognises ciphertext and leaves it alone.
    tokens = _stored(project, "email")
    engine = make_engine(project.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(f"UPDATE {PROGRESS_TABLE} SET last_id = 0, rows_done = 0, done = :no"), {"no": False}
            )
    finally:
        engine.dispose()
    run_cli("migrate", "-p", str(project.root), "--yes")
    assert _stored(project, "email") == tokens
