"""`crm migrate` and required fields over rows that are empty: fill with the default, or refuse."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from storage_helpers import insert, rows

from builder.cli import main
from builder.loading import load_blueprint
from builder.records import Actor, RecordService, ValidationFailed
from builder.storage.crypto import Keyring
from builder.storage.database import make_engine

BASE = """\
app: {name: test_clinic, timezone: Asia/Shanghai}
roles:
  admin: {title: Administrator}
  front_desk: {title: Front desk}
entities:
  patient:
    fields:
      name: {type: text, max_length: 40}
      note: {type: text}
PATIENT_FIELDS
    permissions:
      admin: {read: all, write: all, create: true}
      front_desk: {read: all, write: [name], create: true}
  visit:
    fields:
      patient: {type: link, to: patient}
      prescriptions:
        type: table
        fields:
          drug: {type: text, max_length: 60}
CHILD_FIELDS
"""


class Project:
    """A one-file project on the test's database, migrated with the real `crm` command."""

    def __init__(self, root: Path, database_url: str, monkeypatch):
        self.root, self.database_url = root, database_url
        root.mkdir()
        (root / "crm.toml").write_text(
            f'[project]\nblueprint = "blueprint.yaml"\n[database]\nurl = "{database_url}"\n', encoding="utf-8"
        )
        monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
        monkeypatch.delenv("CRM_ENCRYPTION_KEYS", raising=False)
        monkeypatch.setenv("CRM_KEY_FILE", str(root / "keys.json"))
        self.write()

    def write(self, patient: str = "", child: str = "") -> None:
        text = BASE.replace("PATIENT_FIELDS\n", patient).replace("CHILD_FIELDS\n", child)
        (self.root / "blueprint.yaml").write_text(text, encoding="utf-8")

    def migrate(self, *args: str, ok: bool = True):
        result = CliRunner().invoke(main, ["migrate", "-p", str(self.root), "--yes", *args], catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        assert "Traceback" not in result.output
        return " ".join(result.output.split())

    def engine(self) -> sa.Engine:
        return make_engine(self.database_url)


@pytest.fixture
def project(tmp_path, database_url, monkeypatch):
    """The BASE blueprint migrated, with 78 patients and a visit holding 2 prescriptions."""
    made = Project(tmp_path / "clinic", database_url, monkeypatch)
    made.migrate()
    engine = made.engine()
    insert(engine, "patient", *[{"name": f"p{i}"} for i in range(78)])
    insert(engine, "visit", {"patient": 1})
    insert(
        engine,
        "visit__prescriptions",
        {"parent_id": 1, "position": 0, "drug": "aspirin"},
        {"parent_id": 1, "position": 1, "drug": "metformin"},
    )
    engine.dispose()
    return made


def _values(project: Project, table: str, *columns: str) -> list[tuple]:
    engine = project.engine()
    try:
        return rows(engine, table, *columns)
    finally:
        engine.dispose()


def test_a_new_required_field_fills_existing_rows_with_its_default(project):
    project.write("      channel: {type: select, options: [phone, web], required: true, default: phone}\n")
    output = project.migrate()
    assert "add field patient.channel (select)" in output
    assert "fill 78 rows of patient.channel with 'phone'" in output
    assert _values(project, "patient", "channel") == [("phone",)] * 78
    assert "already matches" in project.migrate()


def test_a_field_made_required_fills_its_empty_rows(project):
    engine = project.engine()
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE patient SET note = 'kept' WHERE id <= 3"))
    engine.dispose()
    before = BASE.replace("note: {type: text}", "note: {type: text, required: true, default: unknown}")
    (project.root / "blueprint.yaml").write_text(
        before.replace("PATIENT_FIELDS\n", "").replace("CHILD_FIELDS\n", ""), encoding="utf-8"
    )
    output = project.migrate()
    assert "fill 75 rows of patient.note with 'unknown'" in output
    assert [v for (v,) in _values(project, "patient", "note")] == ["kept"] * 3 + ["unknown"] * 75


def test_a_required_field_without_default_is_refused_with_the_count(project):
    project.write("      channel: {type: select, options: [phone, web], required: true}\n")
    output = project.migrate(ok=False)
    assert "patient.channel is required but 78 rows are empty: give it a default or fill them first" in output
    engine = project.engine()
    assert "channel" not in {c["name"] for c in sa.inspect(engine).get_columns("patient")}, "nothing was changed"
    engine.dispose()


def test_making_a_field_required_without_default_is_refused(project):
    text = BASE.replace("note: {type: text}", "note: {type: text, required: true}")
    (project.root / "blueprint.yaml").write_text(
        text.replace("PATIENT_FIELDS\n", "").replace("CHILD_FIELDS\n", ""), encoding="utf-8"
    )
    output = project.migrate(ok=False)
    assert "already matches" not in output
    assert "patient.note is required but 78 rows are empty" in output


def test_dry_run_shows_the_update_and_changes_nothing(project):
    project.write("      channel: {type: select, options: [phone, web], required: true, default: phone}\n")
    output = project.migrate("--dry-run")
    assert "-- fill 78 rows of patient.channel with 'phone'" in output
    assert "UPDATE patient SET channel='phone' WHERE patient.channel IS NULL" in output
    engine = project.engine()
    assert "channel" not in {c["name"] for c in sa.inspect(engine).get_columns("patient")}
    engine.dispose()


def test_a_constant_expression_default_is_evaluated_once_in_the_app_timezone(project):
    project.write("      registered: {type: date, required: true, default: today()}\n")
    today = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).date()
    output = project.migrate()
    assert "fill 78 rows of patient.registered with" in output
    values = {v for (v,) in _values(project, "patient", "registered")}
    assert len(values) == 1 and str(values.pop())[:10] in (today.isoformat(), (today + dt.timedelta(1)).isoformat())


def test_a_default_that_reads_the_record_is_refused(project):
    project.write('      nickname: {type: text, required: true, default: "upper(name)"}\n')
    output = project.migrate(ok=False)
    assert "patient.nickname is required but 78 rows are empty" in output
    assert "give it a constant default or fill them first" in output


def test_an_encrypted_field_is_filled_with_ciphertext_and_search_hash(project):
    project.write("      channel: {type: text, required: true, encrypted: true, default: phone}\n")
    output = project.migrate()
    assert "fill 78 rows of patient.channel with 'phone'" in output
    keyring = Keyring.load(project.root / "keys.json")
    stored = _values(project, "patient", "channel", "channel__hash")
    assert len({token for token, _ in stored}) == 78, "each row has its own ciphertext"
    for token, index in stored:
        assert token.startswith("v1:") and keyring.decrypt(token, "patient.channel") == "phone"
        assert index == keyring.blind_index("phone")


def test_required_child_table_fields_are_filled_or_refused(project):
    project.write(child="          dose: {type: text, required: true}\n")
    assert "visit.prescriptions.dose is required but 2 rows are empty" in project.migrate(ok=False)
    project.write(child="          dose: {type: text, required: true, default: as directed}\n")
    assert "fill 2 rows of visit.prescriptions.dose with 'as directed'" in project.migrate()
    assert _values(project, "visit__prescriptions", "dose") == [("as directed",), ("as directed",)]


def test_a_record_missing_a_field_the_role_cannot_write_can_still_be_saved(project):
    """Rows left empty (here by hand) must not lock out a role that could never fill the field."""
    project.write("      channel: {type: select, options: [phone, web], required: true, default: phone}\n")
    project.migrate()
    engine = project.engine()
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE patient SET channel = NULL WHERE id = 1"))
    entities = load_blueprint(project.root / "blueprint.yaml").blueprint.entities
    service = RecordService(entities, engine, None)
    try:
        front_desk = Actor(2, "fd", "front_desk")
        record = service.get(front_desk, "patient", 1)
        saved = service.update(front_desk, "patient", 1, {"name": "renamed"}, record["version"])
        assert saved["name"] == "renamed" and saved["channel"] is None
        admin = Actor(1, "boss", "admin")
        with pytest.raises(ValidationFailed) as refused:  # a role that may write it is asked for it
            service.update(admin, "patient", 1, {"name": "again"}, saved["version"])
        assert [(e.field, e.code) for e in refused.value.errors] == [("channel", "required")]
    finally:
        engine.dispose()


def test_a_unique_required_field_is_not_filled_with_one_value(project):
    project.write("      code: {type: text, required: true, unique: true, default: none}\n")
    output = project.migrate(ok=False)
    assert "patient.code is required but 78 rows are empty: it is unique, so one default cannot fill them" in output


def test_a_required_field_hidden_by_visible_if_is_not_counted(project):
    """migrations.md: fields with `visible_if` may be empty, so their empty rows neither block nor get filled."""
    project.write(
        "      pregnant: {type: boolean}\n"
        "      due_date: {type: date, required: true, visible_if: pregnant}\n"
        "      trimester: {type: select, options: [first, second, third], required: true,"
        " default: first, visible_if: pregnant}\n"
    )
    output = project.migrate()
    assert "add field patient.due_date (date)" in output
    assert "is required but" not in output and "fill " not in output
    assert _values(project, "patient", "due_date", "trimester") == [(None, None)] * 78
    assert "already matches" in project.migrate()
