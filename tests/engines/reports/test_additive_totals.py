"""Totals summed from the groups when every aggregate is a count: the same cells, no totals part in the query."""

from __future__ import annotations

import sqlalchemy as sa
from reports_helpers import clinic, clinic_database, run

from engines.reports.additive_totals import totals_add_up

PERIOD = {"period": "2026-01-01..2026-03-31"}


def _statements(engine: sa.Engine, report, params, private: bool = False):
    sent: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        result = run(engine, clinic_database_cache[engine], report, params=params, private=private)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return result, sent


clinic_database_cache: dict = {}


def test_counted_totals_are_summed_from_the_groups_and_match_the_database(engine):
    clinic_database_cache[engine] = clinic_database(engine)
    spec = clinic().blueprint.reports["no_show_rate"].model_copy(update={"compare": None})  # no period before
    assert totals_add_up(spec)
    summed, sent = _statements(engine, spec, PERIOD)
    assert len(sent) == 1 and "UNION" not in sent[0].upper() and "GROUPING" not in sent[0].upper()  # groups only
    with_query = spec.model_copy(update={"limit": 100_000})  # a limit makes the engine ask the database
    assert not totals_add_up(with_query)
    asked, sent_again = _statements(engine, with_query, PERIOD)
    assert len(sent_again) == 1 and "UNION ALL" in sent_again[0].upper()  # the totals: a part of the one query
    assert summed.totals == asked.totals and summed.totals["due"] > 0


def test_distinct_counts_still_ask_the_database(engine):
    clinic_database_cache[engine] = clinic_database(engine)
    spec = clinic().blueprint.reports["revisit_rate"].model_copy(update={"compare": None})
    assert not totals_add_up(spec)  # patients: count_distinct does not add up
    _, sent = _statements(engine, spec, PERIOD)
    assert len(sent) == 1
    together = "GROUPING SETS" if engine.dialect.name == "postgresql" else "UNION ALL"
    assert together in sent[0].upper()  # the totals are read in the same statement as the groups


def test_private_reports_suppress_summed_totals_like_queried_ones(engine):
    clinic_database_cache[engine] = clinic_database(engine)
    spec = clinic().blueprint.reports["no_show_rate"].model_copy(update={"compare": None})
    summed, _ = _statements(engine, spec, PERIOD, private=True)
    asked, _ = _statements(engine, spec.model_copy(update={"limit": 100_000}), PERIOD, private=True)
    assert summed.totals == asked.totals and summed.suppressed == asked.suppressed
