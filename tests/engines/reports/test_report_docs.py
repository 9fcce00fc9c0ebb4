"""docs/reports.md keeps up with the engine: every problem code, section key, measure, bucket and period."""

from __future__ import annotations

import re

import pytest
from reports_helpers import ROOT

from engines.reports import AGGREGATES, PERIODS, TIME_BUCKETS, DashboardSpec, ReportSpec
from engines.reports.dashboard_spec import CardSpec
from engines.reports.report_spec import (
    CHANGE_PERIODS,
    CYCLE_BUCKETS,
    ChangeSpec,
    CohortSpec,
    ForecastSpec,
    ParameterSpec,
    ReportExampleSpec,
)

DOC = (ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
CODE = re.compile(r"""["']((?:report|dashboard)\.[a-z_]+)["']""")


def problem_codes() -> set[str]:
    return {
        code
        for path in (ROOT / "engines" / "reports").glob("*.py")
        for code in CODE.findall(path.read_text(encoding="utf-8"))
    }


def test_codes_are_found():
    assert {"report.measure_cycle", "dashboard.unknown_report"} <= problem_codes()


@pytest.mark.parametrize("code", sorted(problem_codes()))
def test_every_problem_code_is_documented(code):
    assert f"`{code}`" in DOC


@pytest.mark.parametrize(
    "key",
    sorted(
        {
            field.alias or name
            for model in (ReportSpec, DashboardSpec, CardSpec, ParameterSpec, ChangeSpec, ForecastSpec, CohortSpec)
            for name, field in model.model_fields.items()
        }
        | set(ReportExampleSpec.model_fields)
    ),
)
def test_every_key_is_documented(key):
    assert f"`{key}`" in DOC


@pytest.mark.parametrize("word", [*AGGREGATES, *TIME_BUCKETS, *CYCLE_BUCKETS, *CHANGE_PERIODS, *PERIODS])
def test_every_measure_bucket_and_period_is_documented(word):
    assert f"`{word}`" in DOC
