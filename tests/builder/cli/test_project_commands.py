"""The `crm` project commands, run as a user would: init, validate, test, schema, migrate, seed, keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from builder.cli import main


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRM_ENCRYPTION_KEYS", raising=False)
    monkeypatch.setenv("CRM_KEY_FILE", str(tmp_path / "keys" / "crm-keys.json"))
    return CliRunner()


def run(runner, *args, ok=True):
    result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def project(runner, tmp_path) -> Path:
    run(runner, "init", tmp_path / "clinic")
    return tmp_path / "clinic"


def test_every_command_has_help(runner):
    for command in ("init", "validate", "test", "schema", "migrate", "seed", "keys", "keys rotate"):
        assert "Usage:" in run(runner, *command.split(), "--help").output


def test_init_refuses_an_existing_project_and_unknown_template(runner, project, tmp_path):
    assert (project / "crm.toml").exists() and (project / "blueprint" / "entities" / "patient.yaml").exists()
    again = run(runner, "init", project, ok=False)
    assert again.exit_code == 1 and "already holds a project" in again.output
    unknown = run(runner, "init", tmp_path / "x", "--template", "dentist", ok=False)
    assert "unknown template `dentist` (available: clinic)" in unknown.output


def test_validate_and_test_the_template(runner):
    assert "OK sunrise_clinic" in run(runner, "validate", "blueprints/clinic").output
    assert "examples passed" in run(runner, "test", "blueprints/clinic").output


def test_a_changed_threshold_fails_with_the_example_named(runner, tmp_path):
    shutil.copytree("blueprints/clinic", tmp_path / "bp")
    table = tmp_path / "bp" / "decision_tables" / "bp_risk.yaml"
    table.write_text(
        table.read_text(encoding="utf-8").replace('"systolic >= 140"', '"systolic >= 155"'), encoding="utf-8"
    )
    result = run(runner, "validate", tmp_path / "bp", ok=False)
    assert result.exit_code == 1
    assert "example 2 of bp_risk: expected elevated, got normal for systolic=150, diastolic=85" in " ".join(
        result.output.split()
    )
    assert "Traceback" not in result.output


def test_validate_reports_positions_without_traceback(runner, tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "app: {name: x}\nentities:\n  p:\n    fields:\n      a: {type: txt}\n", encoding="utf-8"
    )
    result = run(runner, "validate", tmp_path / "bad.yaml", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "bad.yaml:5:" in result.output and "did you mean `text`?" in result.output


def test_schema_is_json(runner):
    schema = json.loads(run(runner, "schema").output)
    assert schema["type"] == "object" and "entities" in schema["properties"]


def test_migrate_dry_run_then_apply_seed_and_rotate(runner, project):
    dry = run(runner, "migrate", "-p", project, "--dry-run").output
    assert "create entity patient" in dry and "CREATE TABLE patient" in dry
    assert (
        not (project / "crm.sqlite3").exists()
        or not sa.inspect(sa.create_engine(f"sqlite:///{project / 'crm.sqlite3'}")).get_table_names()
    )
    applied = run(runner, "migrate", "-p", project, "--yes").output
    assert "Applied" in applied and "Created encryption key file" in applied
    assert "already matches" in run(runner, "migrate", "-p", project).output
    seeded = run(runner, "seed", "-p", project, "--patients", "30").output
    assert "Seeded" in seeded
    engine = sa.create_engine(f"sqlite:///{project / 'crm.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from patient")).scalar() == 30
        assert conn.execute(sa.text("select count(*) from crm_blueprint_history")).scalar() == 1
        tokens = [r[0] for r in conn.execute(sa.text("select id_number from patient where id_number is not null"))]
    assert tokens and all(t.startswith("v1:") for t in tokens)
    rotated = run(runner, "keys", "rotate", "-p", project).output
    assert f"{len(tokens)} value(s) re-encrypted" in rotated
    engine.dispose()


def test_migrate_refuses_data_loss_until_allowed(runner, project):
    run(runner, "migrate", "-p", project, "--yes")
    run(runner, "seed", "-p", project, "--patients", "5")
    visit = project / "blueprint" / "entities" / "visit.yaml"
    text = visit.read_text(encoding="utf-8")
    assert "wait_minutes" in text
    text = "\n".join(line for line in text.splitlines() if "wait_minutes:" not in line)
    visit.write_text(text.replace(", wait_minutes", ""), encoding="utf-8")
    refused = run(runner, "migrate", "-p", project, "--yes", ok=False)
    assert refused.exit_code == 1 and "LOSES DATA" in refused.output and "Traceback" not in refused.output
    allowed = run(runner, "migrate", "-p", project, "--yes", "--allow-data-loss").output
    assert "Backup written to" in allowed


def test_a_broken_database_url_is_a_clear_error(runner, project, monkeypatch):
    monkeypatch.setenv("CRM_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = run(runner, "migrate", "-p", project, ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output and "127.0.0.1:1" in result.output
