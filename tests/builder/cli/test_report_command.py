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


def test_report_run_writes_xlsx_with_labels_and_is_audited(runner, project, tmp_path):
    import sqlalchemy as sa
    from openpyxl import load_workbook

    from builder.project import Project
    from builder.system_tables import audit

    target = tmp_path / "new.xlsx"
    result = run(runner, "report", "run", "new_patients", "-p", project, "--param", "period=all",
                 "--format", "xlsx", "--output", target, "--as-role", "analyst")  # fmt: skip
    assert "rows written to" in result.output
    rows = [tuple(r) for r in load_workbook(target).active.iter_rows(values_only=True)]
    assert rows[0] == ("月份", "来源渠道", "新患者数")  # the clinic speaks Chinese by default
    assert rows[-1][0] == "合计" and rows[-1][2] == 40
    assert all(row[2] == 0 or row[2] == "<5" or row[2] >= 5 for row in rows[1:-1])
    english = tmp_path / "new-en.xlsx"
    run(runner, "report", "run", "new_patients", "-p", project, "--format", "xlsx", "-o", english, "--locale", "en")
    assert next(load_workbook(english).active.iter_rows(values_only=True)) == ("Month", "Came through", "New patients")
    engine = sa.create_engine(Project.load(project).database_url)
    with engine.connect() as conn:
        entries = conn.execute(sa.select(audit.c.role, audit.c.detail).where(audit.c.action == "report")).all()
    engine.dispose()
    assert [(role, json.loads(detail)["via"], json.loads(detail)["format"]) for role, detail in entries] == [
        ("analyst", "cli", "xlsx"),
        ("system", "cli", "xlsx"),
    ]
    assert json.loads(entries[0][1])["params"] == {"period": "all"}


def test_report_run_streams_csv_to_a_file_and_xlsx_needs_one(runner, project, tmp_path):
    target = tmp_path / "out.csv"
    run(runner, "report", "run", "new_patients", "-p", project, "--param", "period=all", "-o", target)
    printed = run(runner, "report", "run", "new_patients", "-p", project, "--param", "period=all").output
    assert target.read_text(encoding="utf-8") == printed
    assert printed.splitlines()[0] == "month,channel,new_patients"
    refused = run(runner, "report", "run", "new_patients", "-p", project, "--format", "xlsx", ok=False)
    assert refused.exit_code == 2 and "--output" in refused.output


def test_report_run_json_carries_the_period_before_forecasts_and_subtotal_rows(runner, project):
    from builder.project import Project

    def as_json(name, *args):
        return json.loads(run(runner, "report", "run", name, "-p", project, "--format", "json", *args).output)

    compared = as_json("no_show_rate", "--param", "period=last_3_months")
    assert set(compared["previous"]) == {"due", "no_shows", "no_show_rate"}
    assert set(compared["changes"]) == {"due", "no_shows", "no_show_rate"}
    assert len(compared["period"]) == 2 and compared["previous_period"][1] < compared["period"][0]
    assert compared["forecast"] is None

    forecast = as_json("appointments_forecast")
    assert forecast["forecast"]["method"] == "seasonal_average" and forecast["forecast"]["periods"] == 28
    assert any(row["forecast"] is True for row in forecast["rows"])
    assert forecast["notes"] and forecast["previous"] is None

    blueprint = Project.load(project).blueprint_path
    (blueprint / "reports" / "by_doctor_month.yaml").write_text(
        "by_doctor_month:\n  source: visit\n  dimensions: [{field: visited_at, by: month, name: month}, doctor]\n"
        "  measures: {patients: {agg: count_distinct, field: patient}}\n  subtotals: true\n",
        encoding="utf-8",
    )
    subtotals = as_json("by_doctor_month")
    marked = [row for row in subtotals["rows"] if "_subtotal" in row]
    assert marked and all(row["_subtotal"] == "month" and row["doctor"] is None for row in marked)
    assert all("_subtotal" not in row for row in subtotals["rows"] if row["doctor"] is not None)
