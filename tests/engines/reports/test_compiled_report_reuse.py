"""A report is compiled once per viewer, parameters and day, and every run still reads, checks and is audited.

The prepared report (records/compiled_reports.py) is reused only for the same
report object, parameters, day, role and account context: two doctors whose row
filter reads `user.id` never share one, a report replaced under its name (the
designer) is compiled again, and a draft is never kept. The constants of a
blueprint's `where` are written into the SQL text, quoted by SQLAlchemy's literal
renderer (a quote in a value stays inside the string).
"""

from __future__ import annotations

from reports_helpers import TODAY, cells, clinic, clinic_database
from test_report_runs import Q1, report_audits, report_queries, run, service_for, statements

from builder.records.actor import Actor
from builder.records.reporting import prepare_report_as, run_draft_as
from engines.reports import ReportSpec

PERIOD = {"period": "2026-03-02..2026-03-15"}


def test_a_second_run_reuses_the_compiled_report_and_still_queries_and_audits(engine):
    service = service_for(engine, clinic_database(engine))
    first = run(service, "admin", "no_show_rate", PERIOD)
    with statements(engine) as sent:
        again = run(service, "admin", "no_show_rate", PERIOD)
    assert len(service.compiled_reports) == 1
    assert len(report_queries(sent)) == 1  # no result cache here: the statement is sent every time
    assert cells(again) == cells(first)
    assert [a["report"] for a in report_audits(engine)] == ["no_show_rate", "no_show_rate"]


def test_other_parameters_days_and_accounts_are_compiled_apart(engine):
    service = service_for(engine, clinic_database(engine))
    reports = clinic().blueprint.reports
    doctor = Actor(id=101, name="li", role="doctor")
    other = Actor(id=102, name="wang", role="doctor")
    one = prepare_report_as(service, reports, doctor, "no_show_rate", PERIOD, today=TODAY)
    assert prepare_report_as(service, reports, doctor, "no_show_rate", dict(PERIOD), today=TODAY) is one
    assert prepare_report_as(service, reports, other, "no_show_rate", PERIOD, today=TODAY) is not one
    assert prepare_report_as(service, reports, doctor, "no_show_rate", Q1, today=TODAY) is not one
    later = TODAY.replace(day=TODAY.day + 1)
    assert prepare_report_as(service, reports, doctor, "no_show_rate", PERIOD, today=later) is not one
    li = run(service, "doctor", "no_show_rate", PERIOD, user_id=101)
    wang = run(service, "doctor", "no_show_rate", PERIOD, user_id=102)
    assert cells(li) == [("2026-W10", 2, 1, 0.5), ("2026-W11", 1, 0, 0.0)] and cells(wang) != cells(li)


def test_a_report_replaced_under_its_name_is_compiled_again_and_drafts_are_not_kept(engine):
    service = service_for(engine, clinic_database(engine))
    spec = {"source": "visit", "dimensions": ["doctor"], "measures": {"visits": {"agg": "count"}}}
    before = run(service, "admin", "mine", reports={"mine": ReportSpec.model_validate(spec)})
    replaced = {**spec, "measures": {"visits": {"agg": "count", "where": "satisfaction >= 9"}}}
    after = run(service, "admin", "mine", reports={"mine": ReportSpec.model_validate(replaced)})
    assert sum(r["visits"] for r in after.rows) < sum(r["visits"] for r in before.rows)
    kept = len(service.compiled_reports)
    run_draft_as(service, ReportSpec.model_validate(spec), Actor(id=1, name="a", role="admin"), today=TODAY)
    assert len(service.compiled_reports) == kept


def test_a_quote_in_a_blueprint_value_stays_inside_the_sql_string(engine):
    service = service_for(engine, clinic_database(engine))
    sneaky = "x' OR 1=1 --"
    spec = {
        "source": "visit",
        "dimensions": ["doctor"],
        "measures": {"visits": {"agg": "count"}, "odd": {"agg": "count", "where": f"department == {sneaky!r}"}},
    }
    with statements(engine) as sent:
        result = run(service, "admin", "sneaky", reports={"sneaky": ReportSpec.model_validate(spec)})
    assert all(row["odd"] == 0 for row in result.rows) and any(row["visits"] for row in result.rows)
    assert "'x'' OR 1=1 --'" in report_queries(sent)[0]  # rendered as one quoted string
