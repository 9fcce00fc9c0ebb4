"""A report's `examples:` run like the rules' examples: `crm test` fails, naming the example, when cells differ."""

from __future__ import annotations

import shutil

import pytest
from reports_helpers import ROOT

from builder.errors import BlueprintError
from builder.runtime import load_checked


def copy_clinic(tmp_path):
    target = tmp_path / "clinic"
    shutil.copytree(ROOT / "blueprints" / "clinic", target)
    return target


def test_the_clinic_report_example_passes(tmp_path):
    load_checked(copy_clinic(tmp_path))


def test_a_wrong_expected_cell_fails_with_its_place(tmp_path):
    clinic = copy_clinic(tmp_path)
    path = clinic / "reports" / "visits.yaml"
    path.write_text(path.read_text().replace("doctor: 1, visits: 3, patients: 2", "doctor: 1, visits: 4, patients: 2"))
    with pytest.raises(BlueprintError) as error:
        load_checked(clinic)
    text = str(error.value)
    assert "reports/visits.yaml:" in text and "example 1 of report revisit_rate" in text
    assert "'visits': 4" in text and "[example.failed]" in text


def test_an_example_that_cannot_run_says_why(tmp_path):
    clinic = copy_clinic(tmp_path)
    path = clinic / "reports" / "visits.yaml"
    path.write_text(path.read_text().replace("params: {period: 2026-01-01..2026-02-28}", "params: {period: soon}"))
    with pytest.raises(BlueprintError, match="cannot run: parameter `period`: unknown period `soon`"):
        load_checked(clinic)


def test_the_new_kinds_examples_run_and_a_wrong_forecast_cell_fails(tmp_path):
    clinic = copy_clinic(tmp_path)
    path = clinic / "reports" / "appointments.yaml"
    text = path.read_text()
    assert "{day: 2026-01-15, appointments: 2, forecast: true}" in text
    path.write_text(
        text.replace(
            "{day: 2026-01-15, appointments: 2, forecast: true}", "{day: 2026-01-15, appointments: 3, forecast: true}"
        )
    )
    with pytest.raises(BlueprintError) as error:
        load_checked(clinic)
    assert "example 1 of report appointments_forecast" in str(error.value)


def test_a_cohort_mistake_points_at_its_line_and_column(tmp_path):
    clinic = copy_clinic(tmp_path)
    path = clinic / "reports" / "visits.yaml"
    text = path.read_text()
    path.write_text(text.replace("cohort: {subject: patient,", "cohort: {subject: wait_minutes,"))
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if "subject: wait_minutes" in row)
    with pytest.raises(BlueprintError) as error:
        load_checked(clinic)
    message = str(error.value)
    assert f"reports/visits.yaml:{line}:" in message and "[report.bad_cohort]" in message


def test_an_example_may_list_some_rows_of_a_large_result(tmp_path):
    clinic = copy_clinic(tmp_path)
    path = clinic / "reports" / "appointments.yaml"
    path.write_text(path.read_text().replace("rows: 168", "rows: 167"))
    with pytest.raises(BlueprintError, match="168 rows, expected 167"):
        load_checked(clinic)
