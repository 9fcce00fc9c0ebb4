"""Report runs through the builder: audited with their parameters, paged in SQL, cached until a table changes.

Statements are counted with a SQLAlchemy event on the engine reports run on, so
"came from the cache" means the report's query was not sent at all.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from reports_helpers import TODAY, cells, clinic, clinic_database

from builder.records.actor import SYSTEM, Actor
from builder.records.report_audit import audited_params
from builder.records.report_cache import ReportCache
from builder.records.reporting import run_report_as
from builder.records.service import RecordService
from builder.system_tables import audit
from engines.reports import ReportError, ReportSpec, Suppressed
from tests.sent_sql import sent_statements

Q1 = {"period": "2026-01-01..2026-03-31"}


def service_for(engine, schema, cache: bool = False) -> RecordService:
    loaded = clinic()
    service = RecordService(
        loaded.blueprint.entities,
        engine,
        schema=schema,
        decision_tables=loaded.decision_tables,
        timezone="Asia/Shanghai",
    )
    if cache:
        service.report_cache = ReportCache()
    return service


def run(service, role, name, params=None, user_id=None, reports=None, **options):
    actor = SYSTEM if role == "system" else Actor(id=user_id, name=f"{role}-{user_id}", role=role)
    return run_report_as(service, reports or clinic().blueprint.reports, actor, name, params, today=TODAY, **options)


def statements(engine: sa.Engine):
    """The SQL sent to `engine` inside the block."""
    return sent_statements(engine)


def report_queries(sent: list[str]) -> list[str]:
    return [s for s in sent if "GROUP BY" in s.upper()]


def report_audits(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit).where(audit.c.action == "report").order_by(audit.c.id)).all()
    return [{"actor": r.actor, "role": r.role, "entity": r.entity, **json.loads(r.detail)} for r in rows]


# -- audit ------------------------------------------------------------------------------------------


def test_every_run_is_audited_with_its_parameters(engine):
    service = service_for(engine, clinic_database(engine))
    run(service, "doctor", "no_show_rate", {"period": "2026-03-02..2026-03-15"}, user_id=101, via="api")
    run(service, "analyst", "revisit_rate", {**Q1, "doctor": "2"}, via="page")
    entries = report_audits(engine)
    assert entries[0] == {
        "actor": "doctor-101",
        "role": "doctor",
        "entity": "appointment",
        "report": "no_show_rate",
        "params": {"period": "2026-03-02..2026-03-15"},
        "via": "api",
        "rows": 2,
        "cached": False,
    }
    assert entries[1]["report"] == "revisit_rate" and entries[1]["params"] == {**Q1, "doctor": 2}
    assert entries[1]["via"] == "page" and entries[1]["entity"] == "visit"


def test_a_refused_or_malformed_run_sends_nothing_and_free_text_never_reaches_the_audit(engine):
    service = service_for(engine, clinic_database(engine))
    with pytest.raises(ReportError):
        run(service, "admin", "revisit_rate", {"period": "Wang Fang 13800000001"})
    assert report_audits(engine) == []
    spec = clinic().blueprint.reports["revisit_rate"]
    entities = clinic().blueprint.entities
    shown = audited_params(spec, entities, {"period": "Wang Fang", "doctor": "13800000001x", "other": "x"})
    assert shown == {"period": "set", "doctor": "set", "other": "set"}
    assert audited_params(spec, entities, {"period": "last_12_months", "doctor": 3}) == {
        "period": "last_12_months",
        "doctor": 3,
    }


# -- paging -----------------------------------------------------------------------------------------

BY_PATIENT = ReportSpec.model_validate(
    {
        "source": "visit",
        "dimensions": ["patient"],
        "measures": {"visits": {"agg": "count"}},
        "totals": True,
    }
)


def test_a_page_is_cut_in_sql_and_says_how_many_rows_there_are(engine):
    service = service_for(engine, clinic_database(engine))
    reports = {"by_patient": BY_PATIENT}
    whole = run(service, "admin", "by_patient", reports=reports)
    with statements(engine) as sent:
        page = run(service, "admin", "by_patient", reports=reports, offset=1, limit=2)
    assert cells(page) == cells(whole)[1:3] and page.total_rows == len(whole.rows) == 4
    assert page.totals == whole.totals == {"visits": 7}
    grouped = report_queries(sent)  # the page, the count and the totals: one statement
    assert len(grouped) == 1 and "ROW_NUMBER() OVER" in grouped[0].upper()
    past_the_end = run(service, "admin", "by_patient", reports=reports, offset=10, limit=2)
    assert past_the_end.rows == [] and past_the_end.total_rows == 4 and past_the_end.totals == {"visits": 7}
    capped = {"by_patient": BY_PATIENT.model_copy(update={"limit": 3})}
    last = run(service, "admin", "by_patient", reports=capped, offset=2, limit=5)
    assert cells(last) == cells(whole)[2:3] and last.total_rows == 3


def test_a_page_of_a_suppressed_or_filled_report_is_cut_from_the_whole_result(engine):
    service = service_for(engine, clinic_database(engine))
    whole = run(service, "analyst", "revisit_rate", Q1)
    page = run(service, "analyst", "revisit_rate", Q1, offset=2, limit=3)
    assert page.total_rows == len(whole.rows) and [str(c) for c in cells(page)] == [str(c) for c in cells(whole)[2:5]]
    assert any(isinstance(row["visits"], Suppressed) for row in whole.rows)


# -- cache ------------------------------------------------------------------------------------------


def test_a_second_run_comes_from_the_cache_and_is_still_audited(engine):
    service = service_for(engine, clinic_database(engine), cache=True)
    first = run(service, "nurse", "revisit_rate", Q1)
    with statements(engine) as sent:
        second = run(service, "nurse", "revisit_rate", Q1)
    assert cells(second) == cells(first) and report_queries(sent) == []
    assert [entry["cached"] for entry in report_audits(engine)] == [False, True]
    with statements(engine) as sent:
        run(service, "nurse", "revisit_rate", {"period": "2026-01-01..2026-02-28"})  # other parameters
    assert len(report_queries(sent)) == 1


def test_a_write_to_a_joined_table_invalidates_the_cached_result(engine):
    service = service_for(engine, clinic_database(engine), cache=True)
    before = run(service, "nurse", "revisit_rate", Q1)
    assert ("2026-01", 1, "Dr Li") in cells(before, "month", "doctor", "doctor__title")
    service.update(SYSTEM, "staff", 1, {"name": "Dr Li Jr"}, 1)  # staff is joined for the doctor's title
    with statements(engine) as sent:
        after = run(service, "nurse", "revisit_rate", Q1)
    assert len(report_queries(sent)) == 1
    assert ("2026-01", 1, "Dr Li Jr") in cells(after, "month", "doctor", "doctor__title")
    with statements(engine) as sent:
        run(service, "nurse", "revisit_rate", Q1)
    assert report_queries(sent) == []  # cached again


def test_a_write_to_an_unrelated_table_keeps_the_cached_result(engine):
    service = service_for(engine, clinic_database(engine), cache=True)
    run(service, "admin", "follow_up_completion", Q1)
    service.update(SYSTEM, "vital_reading", 1, {"systolic": 119}, 1)  # follow-ups never reach readings
    with statements(engine) as sent:
        run(service, "admin", "follow_up_completion", Q1)
    assert report_queries(sent) == []


def test_two_actors_with_different_row_filters_never_share_a_cached_result(engine):
    service = service_for(engine, clinic_database(engine), cache=True)
    period = {"period": "2026-03-02..2026-03-15"}
    li = run(service, "doctor", "no_show_rate", period, user_id=101)
    with statements(engine) as sent:
        wang = run(service, "doctor", "no_show_rate", period, user_id=102)
    assert len(report_queries(sent)) == 1
    assert cells(li) == [("2026-W10", 2, 1, 0.5), ("2026-W11", 1, 0, 0.0)]
    assert cells(wang) != cells(li)
    with statements(engine) as sent:
        assert cells(run(service, "doctor", "no_show_rate", period, user_id=101)) == cells(li)
    assert report_queries(sent) == []


def test_the_cache_holds_a_bounded_number_of_results(engine):
    service = service_for(engine, clinic_database(engine))
    service.report_cache = ReportCache(entries=2)
    for month in ("01", "02", "03"):
        run(service, "admin", "revisit_rate", {"period": f"2026-{month}-01..2026-{month}-28"})
    assert len(service.report_cache) == 2
    with statements(engine) as sent:
        run(service, "admin", "revisit_rate", {"period": "2026-01-01..2026-01-28"})  # the oldest went
    assert len(report_queries(sent)) == 1
