"""The models and meaning checks of `reports:` and `dashboards:`: every mistake found, with its place."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from reports_helpers import clinic

from engines.reports import DashboardSpec, ReportSpec, build_reports

ROLES = {"admin", "doctor", "analyst"}


def problems(report: dict[str, Any] | None = None, dashboard: dict[str, Any] | None = None) -> list[tuple]:
    reports = {"r": ReportSpec.model_validate(report)} if report else dict(clinic().blueprint.reports)
    dashboards = {"d": DashboardSpec.model_validate(dashboard)} if dashboard else {}
    built, found = build_reports(reports, dashboards, clinic().blueprint.entities, ROLES)
    assert (built is None) == bool(found)
    return [(p.code, p.loc, p.message) for p in found]


def visit_report(**extra: Any) -> dict[str, Any]:
    return {"source": "visit", "measures": {"n": {"agg": "count"}}, **extra}


def test_the_clinic_reports_and_dashboard_check_clean():
    assert problems() == []
    assert clinic().reports.dashboards_for("analyst") == ["operations"]


@pytest.mark.parametrize(
    ("report", "code", "loc", "words"),
    [
        ({"source": "visitt", "measures": {"n": {"agg": "count"}}}, "report.unknown_entity", ("source",), "visitt"),
        (visit_report(dimensions=["doctr"]), "report.unknown_field", ("dimensions", 0, "field"), "no field `doctr`"),
        (
            visit_report(dimensions=["patient.primary_doctr"]),
            "report.unknown_field",
            ("dimensions", 0, "field"),
            "`patient` has no field",
        ),
        (visit_report(dimensions=["diagnosis.x"]), "report.unknown_field", ("dimensions", 0, "field"), "not a link"),
        (visit_report(dimensions=["visited_at"]), "report.datetime_needs_bucket", ("dimensions", 0, "field"), "by"),
        (
            visit_report(dimensions=[{"field": "doctor", "by": "month"}]),
            "report.not_a_date",
            ("dimensions", 0, "by"),
            "not a date",
        ),
        (
            visit_report(dimensions=["patient.id_number"]),
            "report.encrypted_field",
            ("dimensions", 0, "field"),
            "encrypted",
        ),
        (visit_report(dimensions=["prescriptions"]), "report.not_groupable", ("dimensions", 0, "field"), "table"),
        (
            visit_report(measures={"s": {"agg": "sum", "field": "diagnosis"}}),
            "report.wrong_type",
            ("measures", "s", "field"),
            "`sum` needs a number",
        ),
        (
            visit_report(measures={"m": {"agg": "max", "field": "patient.name"}}),
            "report.wrong_type",
            ("measures", "m", "field"),
            "number or a date",
        ),
        (
            visit_report(measures={"m": {"agg": "count_distinct", "field": "patient.id_number"}}),
            "report.encrypted_field",
            ("measures", "m", "field"),
            "only be counted",
        ),
        (
            visit_report(measures={"n": {"agg": "count"}, "r": {"expr": "n / visits"}}),
            "report.unknown_measure",
            ("measures", "r", "expr"),
            "`visits`",
        ),
        (
            visit_report(measures={"a": {"expr": "b + 1"}, "b": {"expr": "a * 2"}}),
            "report.measure_cycle",
            ("measures", "a", "expr"),
            "a -> b -> a",
        ),
        (
            visit_report(measures={"r": {"expr": "max(1, 2)"}}),
            "report.bad_expression",
            ("measures", "r", "expr"),
            "cannot be used",
        ),
        (
            visit_report(measures={"n": {"agg": "count", "where": "patient.gendr == 'female'"}}),
            "report.bad_filter",
            ("measures", "n", "where"),
            "no field `gendr`",
        ),
        (visit_report(filters=["len(diagnosis) > 3"]), "report.bad_filter", ("filters", 0), "cannot be used"),
        (
            visit_report(filters=["patient.id_number == 'x'"]),
            "report.bad_filter",
            ("filters", 0),
            "encrypted",
        ),
        (
            visit_report(parameters={"p": {"type": "date_range", "field": "doctor"}}),
            "report.wrong_type",
            ("parameters", "p", "field"),
            "date or datetime",
        ),
        (
            visit_report(parameters={"p": {"type": "date_range", "field": "visited_at", "default": "last_13_months"}}),
            "report.bad_default",
            ("parameters", "p", "default"),
            "unknown period",
        ),
        (
            visit_report(parameters={"g": {"type": "select", "field": "patient.gender", "default": "x"}}),
            "report.bad_default",
            ("parameters", "g", "default"),
            "unknown option",
        ),
        (visit_report(parameters={"p": {"type": "link", "field": "dctor"}}), "report.unknown_field", None, "dctor"),
        (visit_report(sort=["-visits"]), "report.unknown_column", ("sort", 0), "`visits`"),
        (visit_report(chart={"type": "line", "y": "nn"}), "report.unknown_measure", ("chart", "y"), "`nn`"),
        (
            visit_report(examples=[{"given": {"vist": []}, "expect": [{"nn": 1}]}]),
            "report.unknown_entity",
            ("examples", 0, "given", "vist"),
            "vist",
        ),
        (
            visit_report(dimensions=["doctor", {"field": "patient.primary_doctor", "name": "doctor"}]),
            "report.duplicate_name",
            ("dimensions", 1),
            "two columns",
        ),
    ],
)
def test_report_mistakes(report, code, loc, words):
    found = problems(report)
    matching = [p for p in found if p[0] == code and words in p[2]]
    assert matching, found
    if loc is not None:
        assert matching[0][1] == ("reports", "r", *loc)


def test_dashboard_mistakes():
    found = problems(
        dashboard={
            "roles": ["analyst", "boss"],
            "home_for": ["doctor"],
            "cards": [
                {"report": "nope"},
                {"report": "revisit_rate", "measure": "rate"},
                {"report": "revisit_rate", "chart": "kpi"},
            ],
        }
    )
    assert [(code, loc) for code, loc, _ in found] == [
        ("dashboard.unknown_role", ("dashboards", "d", "roles", 1)),
        ("dashboard.home_not_shown", ("dashboards", "d", "home_for", 0)),
        ("dashboard.unknown_report", ("dashboards", "d", "cards", 0, "report")),
        ("dashboard.unknown_measure", ("dashboards", "d", "cards", 1, "measure")),
        ("dashboard.kpi_needs_measure", ("dashboards", "d", "cards", 2)),
    ]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"source": "visit", "measures": {}}, "at least one measure"),
        ({"source": "visit", "measures": {"n": {"agg": "count", "expr": "a"}}}, "either `agg`"),
        ({"source": "visit", "measures": {"n": {"expr": "a", "where": "x == 1"}}}, "combines other measures"),
        ({"source": "visit", "measures": {"n": {"agg": "sum"}}}, "`sum` needs a `field`"),
        ({"source": "visit", "measures": {"n": {"agg": "mode", "field": "x"}}}, "agg"),
        ({"source": "visit", "measures": {"n": {"agg": "count"}}, "min_cell": 1}, "min_cell"),
        ({"source": "visit", "measures": {"n": {"agg": "count"}}, "colour": "red"}, "colour"),
        (
            {
                "source": "visit",
                "dimensions": [{"field": "visited_at", "by": "fortnight"}],
                "measures": {"n": {"agg": "count"}},
            },
            "by",
        ),
    ],
)
def test_report_models_refuse_structural_mistakes(body, words):
    with pytest.raises(ValidationError) as error:
        ReportSpec.model_validate(body)
    assert words in str(error.value)


def test_a_dimension_may_be_written_as_text():
    spec = ReportSpec.model_validate(
        visit_report(dimensions=["patient.primary_doctor", {"field": "visited_at", "by": "week"}])
    )
    assert [d.key for d in spec.dimensions] == ["primary_doctor", "visited_at"]
    assert spec.time_dimension is spec.dimensions[1]


def test_a_schedule_names_a_cron_line_known_roles_and_known_parameters():
    good = {"cron": "0 7 * * 1", "to_roles": ["admin"], "params": {"period": "last_month"}}
    params = {"period": {"type": "date_range", "field": "visited_at"}}
    assert problems(visit_report(parameters=params, schedule=good)) == []
    bad = {"cron": "7 every monday", "to_roles": ["admin", "manger"], "params": {"periode": "last_month"}}
    found = problems(visit_report(parameters=params, schedule=bad))
    assert [(code, loc[2:]) for code, loc, _ in found] == [
        ("report.bad_schedule", ("schedule", "cron")),
        ("report.unknown_role", ("schedule", "to_roles", 1)),
        ("report.unknown_parameter", ("schedule", "params", "periode")),
    ]
    assert "`7 every monday` is not a cron line" in found[0][2]
    with pytest.raises(ValidationError):
        ReportSpec.model_validate(visit_report(schedule={"cron": "0 7 * * 1", "to_roles": []}))


MONTHLY = [{"field": "visited_at", "by": "month", "name": "month"}]


@pytest.mark.parametrize(
    ("report", "code", "loc", "words"),
    [
        (
            visit_report(dimensions=[{"field": "patient.birth_date", "by": "hour"}]),
            "report.hour_of_a_date",
            ("dimensions", 0, "by"),
            "no hour",
        ),
        (
            visit_report(dimensions=MONTHLY, measures={"n": {"agg": "count"}, "c": {"change": {"of": "nn"}}}),
            "report.unknown_measure",
            ("measures", "c", "change", "of"),
            "`nn`",
        ),
        (
            visit_report(measures={"n": {"agg": "count"}, "c": {"change": {"of": "n"}}}),
            "report.change_needs_time",
            ("measures", "c", "change"),
            "no time series",
        ),
        (
            visit_report(
                dimensions=MONTHLY,
                measures={"n": {"agg": "count"}, "c": {"change": {"of": "n"}}, "d": {"change": {"of": "c"}}},
            ),
            "report.bad_change",
            ("measures", "d", "change", "of"),
            "change of a change",
        ),
        (
            visit_report(
                dimensions=MONTHLY,
                measures={"n": {"agg": "count"}, "c": {"change": {"of": "n"}}, "e": {"expr": "c * 2"}},
            ),
            "report.bad_change",
            ("measures", "e", "expr"),
            "computed after the query",
        ),
        (visit_report(compare="previous"), "report.compare_needs_range", ("compare",), "no date range"),
        (
            visit_report(dimensions=["doctor"], subtotals=True),
            "report.subtotals_need_dimensions",
            ("subtotals",),
            "two",
        ),
        (
            visit_report(dimensions=[*MONTHLY, "doctor"], subtotals=["doctr"]),
            "report.unknown_column",
            ("subtotals", 0),
            "`doctr`",
        ),
        (
            visit_report(dimensions=[*MONTHLY, "doctor"], subtotals=True, limit=5),
            "report.subtotals_with_limit",
            ("subtotals",),
            "limit",
        ),
        (visit_report(dimensions=MONTHLY, pivot="doctor"), "report.unknown_column", ("pivot",), "`doctor`"),
        (
            visit_report(dimensions=MONTHLY, chart={"type": "heatmap"}),
            "report.heatmap_needs_two_dimensions",
            ("chart", "type"),
            "two dimensions",
        ),
        (
            visit_report(dimensions=MONTHLY, forecast={"periods": 4}),
            "report.bad_forecast",
            ("forecast",),
            "by day or week",
        ),
        (
            visit_report(dimensions=[{"field": "visited_at", "by": "week"}], forecast={"periods": 4}),
            "report.bad_forecast",
            ("forecast", "season"),
            "day buckets",
        ),
        (
            {"kind": "cohort", "source": "visit", "cohort": {"subject": "wait_minutes", "anchor": "visited_at"}},
            "report.bad_cohort",
            ("cohort", "subject"),
            "not a link",
        ),
        (
            {"kind": "cohort", "source": "visit", "cohort": {"subject": "patient", "anchor": "doctor"}},
            "report.not_a_date",
            ("cohort", "anchor"),
            "not a date",
        ),
        (
            {
                "kind": "cohort",
                "source": "visit",
                "cohort": {"subject": "patient", "anchor": "visited_at"},
                "parameters": {"p": {"type": "date_range", "field": "patient.created_at"}},
            },
            "report.bad_cohort",
            ("parameters", "p", "field"),
            "on the anchor",
        ),
    ],
)
def test_mistakes_in_the_new_report_keys(report, code, loc, words):
    found = problems(report)
    matching = [p for p in found if p[0] == code and words in p[2]]
    assert matching, found
    assert matching[0][1] == ("reports", "r", *loc)


def test_a_cohort_report_has_fixed_columns():
    with pytest.raises(ValidationError, match="columns are fixed"):
        ReportSpec.model_validate(
            {"kind": "cohort", "source": "visit", "cohort": {"subject": "patient", "anchor": "visited_at"},
             "measures": {"n": {"agg": "count"}}}
        )  # fmt: skip
    with pytest.raises(ValidationError, match="needs `cohort:"):
        ReportSpec.model_validate({"kind": "cohort", "source": "visit"})
