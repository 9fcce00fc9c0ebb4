"""The new report kinds run as a role through the record service: row filters, privacy and KPI changes hold.

The heat map of a doctor counts only the doctor's own appointments; the front
desk's day table is pivoted by status and compared with the day before; the
analyst's cohort shows small cohorts hidden. Each runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engines" / "reports"))

from reports_helpers import TODAY, clinic, clinic_database

from builder.records.actor import Actor
from builder.records.reporting import run_report_as
from builder.records.service import RecordService
from engines.reports import Suppressed


def as_role(engine, schema, role, name, params=None, user_id=None):
    loaded = clinic()
    service = RecordService(
        loaded.blueprint.entities,
        engine,
        schema=schema,
        decision_tables=loaded.decision_tables,
        timezone="Asia/Shanghai",
    )
    actor = Actor(id=user_id, name="tester", role=role)
    return run_report_as(service, loaded.blueprint.reports, actor, name, params, today=TODAY)


def test_a_doctors_heat_map_counts_their_own_appointments(engine):
    schema = clinic_database(engine)
    result = as_role(engine, schema, "doctor", "appointment_load", {"period": "2026-03-01..2026-03-31"}, user_id=101)
    assert len(result.rows) == 168
    busy = {(r["weekday"], r["hour"]): r["appointments"] for r in result.rows if r["appointments"]}
    assert busy == {(1, 9): 1, (3, 9): 2, (7, 23): 1}  # Dr Li's; Dr Wang's Monday midnight is not here
    assert result.suppressed == 0


def test_the_front_desk_day_is_pivoted_and_compared_with_the_day_before(engine):
    schema = clinic_database(engine)
    result = as_role(engine, schema, "front_desk", "appointments_today", {"day": "2026-03-04..2026-03-04"})
    assert [(r["doctor"], r["appointments__no_show"]) for r in result.rows] == [(1, 1)]
    assert result.totals == {"appointments": 1}
    assert result.previous == {"appointments": 0}  # 3 March: nobody
    assert result.changes == {"appointments": None}  # against nothing, a relative change is empty
    assert result.previous_period == (dt.date(2026, 3, 3), dt.date(2026, 3, 3))


def test_an_analyst_sees_the_cohort_with_small_cohorts_hidden(engine):
    schema = clinic_database(engine)
    result = as_role(engine, schema, "analyst", "first_visit_cohort", {"period": "2026-01-01..2026-03-31"})
    assert len(result.rows) == 9
    assert all(isinstance(r["cohort_size"], Suppressed) for r in result.rows)
    assert result.suppressed > 0
