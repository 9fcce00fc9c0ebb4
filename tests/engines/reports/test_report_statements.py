"""One statement per report run, whatever the report asks for: counted with SQLAlchemy's `before_cursor_execute`.

Totals that do not add up, subtotals, the period before (`compare`) and the
buckets before (`change`) are parts of the one query (GROUPING SETS on
PostgreSQL, UNION ALL on SQLite and for other date ranges); each part's rows
must be exactly those its own query gives. A paged run (the page, the number of
rows in all, the totals) and a streamed one (the totals, then every row from one
cursor) are one statement too, and give the whole run's cells.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from reports_helpers import CLINIC_ROWS, TODAY, VISITS, T, cells, clinic, clinic_database

from engines.reports import ReportSpec, compile_report, run_report
from engines.reports.combined import MAIN, split_parts
from engines.reports.streaming import run_report_page, stream_report
from tests.sent_sql import sent_statements

Q1 = {"period": "2026-01-01..2026-03-31"}
BY_MONTH = {"field": "visited_at", "by": "month", "name": "month"}
PERIOD = {"period": {"type": "date_range", "field": "visited_at"}}


TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK")


def statements(engine: sa.Engine):
    """Every statement sent to `engine` inside the block (SQLite's explicit BEGIN left out)."""
    return sent_statements(engine, keep=lambda statement: statement.split()[0].upper() not in TRANSACTION)


def compiled_for(engine, schema, report, params=None, private=False):
    spec = clinic().blueprint.reports[report] if isinstance(report, str) else report
    return compile_report(
        report if isinstance(report, str) else "adhoc",
        spec,
        clinic().blueprint.entities,
        schema=schema.table,
        dialect=engine.dialect.name,
        today=TODAY,
        params=params,
        private=private,
    )


def visits_spec(**body) -> ReportSpec:
    return ReportSpec.model_validate({"source": "visit", "parameters": PERIOD, **body})


KINDS = {
    "groups only": (visits_spec(dimensions=[BY_MONTH], measures={"visits": {"agg": "count"}}), Q1),
    "counted totals": ("no_show_rate", {"period": "2026-03-01..2026-03-31"}),  # and `compare`
    "distinct totals": (
        visits_spec(
            dimensions=[BY_MONTH, "doctor"],
            measures={"visits": {"agg": "count"}, "patients": {"agg": "count_distinct", "field": "patient"}},
            totals=True,
        ),
        Q1,
    ),
    "subtotals": (
        visits_spec(
            dimensions=[BY_MONTH, "doctor"],
            measures={"patients": {"agg": "count_distinct", "field": "patient"}},
            subtotals=True,
            totals=True,
        ),
        Q1,
    ),
    "subtotals by name": (
        visits_spec(dimensions=[BY_MONTH, "doctor"], measures={"visits": {"agg": "count"}}, subtotals=["doctor"]),
        Q1,
    ),
    "compare": ("revisit_rate", Q1),  # distinct totals and the period before
    "change and compare": ("visits_trend", {"period": "2026-02-01..2026-03-31"}),
    "pivot": ("appointments_today", {"day": "2026-03-02..2026-03-02"}),
    "sorted with a limit and totals": (
        visits_spec(
            dimensions=["doctor"],
            measures={"patients": {"agg": "count_distinct", "field": "patient"}},
            sort=["-patients"],
            limit=1,
            totals=True,
        ),
        Q1,
    ),
    "weekday and hour": ("appointment_load", {"period": "2026-03-01..2026-03-31"}),
    "forecast": ("appointments_forecast", {"period": "2026-01-01..2026-04-14"}),
    "cohort": ("first_visit_cohort", Q1),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("private", [False, True], ids=["reader", "aggregates only"])
def test_a_report_run_sends_one_statement(engine, kind, private):
    schema = clinic_database(engine)
    report, params = KINDS[kind]
    compiled = compiled_for(engine, schema, report, params, private)
    with engine.connect() as connection, statements(engine) as sent:
        result = run_report(connection, compiled)
    assert len(sent) == 1, sent
    assert result.rows


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("private", [False, True], ids=["reader", "aggregates only"])
def test_a_paged_run_sends_one_statement_and_gives_the_whole_runs_cells(engine, kind, private):
    """The page, the number of rows in all and the totals; a report that needs every group is run whole."""
    schema = clinic_database(engine)
    report, params = KINDS[kind]
    compiled = compiled_for(engine, schema, report, params, private)
    with engine.connect() as connection:
        whole = run_report(connection, compiled)
        for offset, limit in [(0, 2), (1, 2), (len(whole.rows), 3), (100, 5)]:
            with statements(engine) as sent:
                page = run_report_page(connection, compiled, offset, limit)
            assert len(sent) == 1, sent
            assert [str(r) for r in page.rows] == [str(r) for r in whole.rows[offset : offset + limit]]
            assert page.total_rows == len(whole.rows) and str(page.totals) == str(whole.totals)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("private", [False, True], ids=["reader", "aggregates only"])
def test_a_streamed_run_sends_one_statement_and_gives_the_whole_runs_cells(engine, kind, private):
    """An export's totals and rows, read from one statement's cursor (the totals first)."""
    schema = clinic_database(engine)
    report, params = KINDS[kind]
    compiled = compiled_for(engine, schema, report, params, private)
    with engine.connect() as connection:
        whole = run_report(connection, compiled)
        with statements(engine) as sent:
            stream = stream_report(connection, compiled, batch=2)
            rows = list(stream.rows)
        assert len(sent) == 1, sent
    assert [str(r) for r in rows] == [str(r) for r in whole.rows] and rows
    assert str(stream.totals) == str(whole.totals) and stream.columns == whole.columns


def test_the_parts_come_back_as_their_own_queries_give_them(engine):
    """Subtotals, distinct totals, the period before and the buckets before, against each part run alone."""
    visits = [*VISITS, {"id": 8, "patient": 1, "doctor": 2, "visited_at": T("2025-12-25T09:00")}]
    schema = clinic_database(engine, {**CLINIC_ROWS, "visit": visits})
    spec = visits_spec(
        dimensions=[BY_MONTH, "doctor"],
        measures={
            "visits": {"agg": "count"},
            "patients": {"agg": "count_distinct", "field": "patient"},
            "per_patient": {"expr": "visits / patients"},
            "trend": {"change": {"of": "visits", "period": "previous"}},
        },
        subtotals=True,
        totals=True,
        compare="previous",
    )
    compiled = compiled_for(engine, schema, spec, {"period": "2026-01-01..2026-02-28"})
    alone = {MAIN: compiled.query, "totals": compiled.totals_query, "previous": compiled.previous.query}
    alone.update({f"subtotal:{key}": query for key, query in compiled.subtotal_queries.items()})
    alone.update({f"shifted:{period}": nested.query for period, nested in compiled.shifted.items()})
    with engine.connect() as connection:
        together = split_parts(connection.execute(compiled.statement).mappings().all(), compiled.tags)
        assert set(together) == set(alone)
        for tag, query in alone.items():
            own = [dict(r) for r in connection.execute(query).mappings().all()]
            came = [{k: v for k, v in r.items() if k in own[0]} for r in together[tag]] if own else together[tag]
            if tag.startswith("subtotal:"):  # their order never mattered: each is looked up by its value
                own, came = sorted(own, key=repr), sorted(came, key=repr)
            assert [_alike(r) for r in came] == [_alike(r) for r in own], tag
        result = run_report(connection, compiled)
    assert result.totals == {"visits": 6, "patients": 3, "per_patient": 2.0, "trend": 5.0}
    assert result.previous == {"visits": 1, "patients": 1, "per_patient": 1.0}  # Nov-Dec 2025: visit 8
    found = cells(result, "month", "doctor", "visits", "patients", "trend")
    assert ("2026-01", 1, 3, 2, None) in found  # Dr Li had no visit in December
    assert ("2026-01", 2, 0, 0, -1.0) in found  # Dr Wang: none in January against December's one
    assert ("2026-01", None, 3, 2, None) in found  # January's subtotal: patients 1 and 2


def _alike(row):
    """A row with numbers made alike (PostgreSQL's Decimal and SQLite's float)."""
    return {k: round(float(v), 9) if hasattr(v, "as_integer_ratio") and not isinstance(v, int) else v
            for k, v in row.items()}  # fmt: skip
