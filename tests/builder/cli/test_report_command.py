"""`crm report run`, as a user would run it: CSV and JSON, as a role, with clear errors."""

from __future__ import annotations

import json

import pytest
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
def project(runner, tmp_path):
    path = tmp_path / "clinic"
    run(runner, "init", path)
    run(runner, "migrate", "-p", path, "--yes")
    run(runner, "seed", "-p", path, "--patients", "40")
    return path


def test_report_run_as_the_system_and_as_an_analyst(runner, project):
    text = run(runner, "report", "run", "new_patients", "-p", project, "--param", "period=all").output
    lines = text.strip().splitlines()
    assert lines[0] == "month,channel,new_patients"
    assert lines[-1].startswith("total,,") and lines[-1].endswith(",40")
    shown = json.loads(
        run(runner, "report", "run", "new_patients", "-p", project, "--param", "period=all",
            "--format", "json", "--as-role", "analyst").output
    )  # fmt: skip
    assert shown["report"] == "new_patients" and shown["totals"] == {"new_patients": 40}
    values = [row["new_patients"] for row in shown["rows"]]
    assert all(v == 0 or v == "<5" or v >= 5 for v in values)


def test_report_run_errors_are_clear(runner, project):
    bad = run(runner, "report", "run", "revisit_rate", "-p", project, "--param", "period=soon", ok=False)
    assert bad.exit_code == 1 and "unknown period `soon`" in bad.output and "Traceback" not in bad.output
    refused = run(runner, "report", "run", "revisit_rate", "-p", project, "--as-role", "marketing", ok=False)
    assert refused.exit_code == 1 and "may not run reports on visit" in refused.output
    unknown = run(runner, "report", "run", "nope", "-p", project, ok=False)
    assert unknown.exit_code == 1 and "no report `nope`" in unknown.output
    malformed = run(runner, "report", "run", "revisit_rate", "-p", project, "--param", "period", ok=False)
    assert malformed.exit_code == 2 and "NAME=VALUE" in malformed.output
