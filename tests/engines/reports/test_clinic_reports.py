"""Every clinic report against cells computed by hand, on SQLite and on PostgreSQL.

Each test runs once per database (the `engine` fixture), and both must give the
very cells written here, so the two databases agree cell for cell.
"""

from __future__ import annotations

import pytest
from reports_helpers import cells, clinic_database, run

from engines.reports import ReportError

Q1 = "2026-01-01..2026-03-31"


def test_new_patients_by_month_and_channel(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "new_patients", params={"period": Q1})
    assert cells(result, "month", "channel", "new_patients") == [
        ("2026-01", "walk_in", 1),
        ("2026-01", "wechat", 2),  # 23:30 on 31 January is still January
        ("2026-01", "web", 0),
        ("2026-02", "walk_in", 0),
        ("2026-02", "wechat", 0),
        ("2026-02", "web", 1),  # 00:10 on 1 February
        ("2026-03", "walk_in", 2),
        ("2026-03", "wechat", 0),
        ("2026-03", "web", 0),
    ]
    assert result.totals == {"new_patients": 6}
    assert [c.name for c in result.columns] == ["month", "channel", "new_patients"]


def test_new_patients_default_period_is_the_last_12_months(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "new_patients")  # today is 2026-04-15: May 2025 .. April 2026
    months = sorted({row["month"] for row in result.rows})
    assert months[0] == "2025-05" and months[-1] == "2026-04" and len(months) == 12
    assert result.totals == {"new_patients": 6}


def test_revisit_rate_by_month_and_doctor(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "revisit_rate", params={"period": Q1})
    assert cells(result, "month", "doctor", "doctor__title", "visits", "patients", "revisit_rate") == [
        ("2026-01", 1, "Dr Li", 3, 2, 0.333333333),
        ("2026-01", 2, "Dr Wang", 0, 0, None),  # an empty month: a rate of nothing is empty
        ("2026-02", 1, "Dr Li", 0, 0, None),
        ("2026-02", 2, "Dr Wang", 3, 2, 0.333333333),  # 23:59 on 28 February is February
        ("2026-03", 1, "Dr Li", 0, 0, None),
        ("2026-03", 2, "Dr Wang", 1, 1, 0.0),  # 00:00 on 1 March is March
    ]


def test_revisit_rate_for_one_doctor(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "revisit_rate", params={"period": Q1, "doctor": "2"})
    assert cells(result, "month", "doctor", "visits") == [("2026-01", 2, 0), ("2026-02", 2, 3), ("2026-03", 2, 1)]


def test_no_show_rate_by_week(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "no_show_rate", params={"period": "2026-03-02..2026-03-22"})
    assert cells(result) == [
        ("2026-W10", 3, 2, 0.666666667),  # Sunday 23:59 belongs to the week that began on Monday
        ("2026-W11", 2, 0, 0.0),  # Monday 00:00 starts a week; cancelled and requested are not due
        ("2026-W12", 0, 0, None),
    ]
    assert result.totals == {"due": 5, "no_shows": 2, "no_show_rate": 0.4}


@pytest.mark.parametrize(
    ("params", "expected", "totals"),
    [
        ({"doctor": 1}, [("2026-W10", 2, 1, 0.5), ("2026-W11", 1, 0, 0.0)], {"due": 3, "no_shows": 1}),
        ({"channel": "phone"}, [("2026-W10", 1, 0, 0.0), ("2026-W11", 1, 0, 0.0)], {"due": 2, "no_shows": 0}),
    ],
)
def test_no_show_rate_parameters(engine, params, expected, totals):
    schema = clinic_database(engine)
    result = run(engine, schema, "no_show_rate", params={"period": "2026-03-02..2026-03-15", **params})
    assert cells(result) == expected
    assert {k: result.totals[k] for k in totals} == totals


def test_follow_up_completion_by_assignee(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "follow_up_completion", params={"period": "2026-03-01..2026-03-31"})
    assert cells(result, "assignee", "assignee__title", "due", "done", "unreachable", "completion", "avg_attempts") == [
        (1, "Dr Li", 3, 2, 0, 0.666666667, 1.0),
        (2, "Dr Wang", 1, 0, 1, 0.0, 3.0),
        (None, None, 1, 0, 0, 0.0, None),  # unassigned: one group, sorted after the ties
    ]
    assert result.totals == {"due": 5, "done": 2, "unreachable": 1, "completion": 0.4, "avg_attempts": 1.5}


def test_bp_risk_distribution(engine):
    schema = clinic_database(engine)
    result = run(engine, schema, "bp_risk_distribution", params={"period": "2026-01-01..2026-12-31"})
    assert cells(result) == [("elevated", 2, 2), ("high", 1, 1), ("normal", 2, 1)]  # no risk: filtered out
    assert result.totals == {"readings": 5, "patients": 3}


def test_a_bad_parameter_is_a_clear_error(engine):
    schema = clinic_database(engine)
    with pytest.raises(ReportError, match="no parameter `doctr`"):
        run(engine, schema, "revisit_rate", params={"doctr": 1})
    with pytest.raises(ReportError, match="not a range of ISO dates"):
        run(engine, schema, "revisit_rate", params={"period": "2026-13-01..2026-14-01"})
    with pytest.raises(ReportError, match="is one of"):
        run(engine, schema, "no_show_rate", params={"channel": "fax"})
    with pytest.raises(ReportError, match="whole number"):
        run(engine, schema, "no_show_rate", params={"doctor": "Dr Li"})
